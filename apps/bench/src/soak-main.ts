#!/usr/bin/env node
// npm run soak: a fixed load for a while (RSS, RSS−heap and handles sampled, slope in
// MB/hour), then join/leave churn that must bring RSS and handles back to the baseline.
process.env.NODE_ENV ??= "production"; // quiets rtc-node's debug log
const { guardKnownTeardownErrors } = await import("./guard.js");
const { runSoakCommand } = await import("./soak-command.js");
guardKnownTeardownErrors((line) => process.stderr.write(`[soak] ${line}\n`));
process.exit(await runSoakCommand(process.argv.slice(2)));
