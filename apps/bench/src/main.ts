#!/usr/bin/env node
// npm run bench: the bridge process under a ladder of concurrent real-time users, measured
// from outside (/proc, HealthCheck, GetStatus, per-packet timestamps). Writes bench.json,
// bench.md and bench.png into --out and prints the table.
process.env.NODE_ENV ??= "production"; // quiets rtc-node's debug log
const { guardKnownTeardownErrors } = await import("./guard.js");
const { runBenchCommand } = await import("./bench-command.js");
guardKnownTeardownErrors((line) => process.stderr.write(`[bench] ${line}\n`));
process.exit(await runBenchCommand(process.argv.slice(2)));
