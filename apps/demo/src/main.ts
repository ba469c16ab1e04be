#!/usr/bin/env node
// npm run demo: what a newcomer runs second. A real livekit-server (in its own network
// namespace where possible), the bridge as its own process, simulated glasses speaking
// into the room, and a small cloud app written with @mentra/bridge-client.
process.env.NODE_ENV ??= "production"; // quiets rtc-node's debug log
const { runDemo } = await import("./demo.js");

const args = process.argv.slice(2);
const outIndex = args.indexOf("--out");
const code = await runDemo({
  quick: args.includes("--quick"),
  ...(outIndex >= 0 && args[outIndex + 1] ? { out: args[outIndex + 1] } : {}),
  write: (text) => process.stdout.write(text),
  tty: process.stdout.isTTY === true,
});
process.exit(code);
