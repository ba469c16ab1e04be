#!/usr/bin/env -S node --max-semi-space-size=1
// rtc-node logs at debug level to stdout unless NODE_ENV is "production"; the bridge
// has its own log, so quiet it before rtc-node loads (hence the dynamic import).
process.env.NODE_ENV ??= "production";
const { runBridge } = await import("./cli.js");

const code = await runBridge({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  signals: process,
});
// Exit explicitly: a library that leaked a timer must not keep a stopped bridge alive.
process.exit(code);
