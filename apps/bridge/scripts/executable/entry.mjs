// The livekit-bridge executable's entry point: what dist/main.js does, without its top-level
// await, which a CommonJS bundle (the only format Node 24's single executable applications
// run) cannot hold. NODE_ENV is set by the bundle's banner, before rtc-node loads.
import { runBridge } from "../../dist/cli.js";

runBridge({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  signals: process,
}).then(
  // Exit explicitly: a library that leaked a timer must not keep a stopped bridge alive.
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`livekit-bridge failed: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
