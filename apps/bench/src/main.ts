#!/usr/bin/env node
// npm run bench: the bridge process under a ladder of concurrent real-time users, measured
// from outside (/proc, HealthCheck, GetStatus, per-packet timestamps). Writes bench.json,
// bench.md and bench.png into --out and prints the table.
process.env.NODE_ENV ??= "production"; // quiets rtc-node's debug log
const { guardKnownTeardownErrors } = await import("./guard.js");
guardKnownTeardownErrors((line) => process.stderr.write(`[bench] ${line}\n`));
const args = process.argv.slice(2);
if (args[0] === "startup") {
  // `npm run bench -- startup`: the bridge's start-up time, no load and no LiveKit needed.
  const { runStartupCommand } = await import("./startup-command.js");
  process.exit(await runStartupCommand(args.slice(1)));
}
if (args[0] === "profile") {
  // `npm run bench -- profile <file.cpuprofile>…`: self time by function and code area.
  const { summariseProfile } = await import("./profile-summary.js");
  for (const file of args.slice(1)) process.stdout.write(`${summariseProfile(file)}\n`);
  process.exit(0);
}
if (args[0] === "h2-window") {
  // `npm run bench -- h2-window`: room→cloud delay on one shared HTTP/2 connection, by window.
  const { probeSharedConnection } = await import("./h2-window-probe.js");
  const seconds = 10;
  process.stdout.write(
    "| streams | round trip ms | client window | delay p50 / p95 / p99 / max ms | received/sent |\n|---|---|---|---|---|\n",
  );
  for (const streams of [10, 20]) {
    for (const rttMs of [2, 50, 100]) {
      for (const window of ["default", "raised"] as const) {
        const r = await probeSharedConnection({ streams, rttMs, seconds, window });
        const d = r.delayMs;
        process.stdout.write(
          `| ${streams} | ${rttMs} | ${window} | ${d.p50} / ${d.p95} / ${d.p99} / ${d.max} | ${r.received}/${r.sent} |\n`,
        );
      }
    }
  }
  process.exit(0);
}
const { runBenchCommand } = await import("./bench-command.js");
process.exit(await runBenchCommand(args));
