#!/usr/bin/env node
import { runBridge } from "./cli.js";

const code = await runBridge({
  argv: process.argv.slice(2),
  env: process.env,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  signals: process,
});
// Exit explicitly: a library that leaked a timer must not keep a stopped bridge alive.
process.exit(code);
