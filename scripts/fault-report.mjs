// Writes docs/faults.md from the rows the tests recorded (test-kit's recordFault) during
// `npm test`: every fault and hostile input the suite applied, what had to hold, what
// was observed and how long recovery took. Usage: node scripts/fault-report.mjs <rows-dir>
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const dir = process.argv[2];
if (dir === undefined || !existsSync(dir)) {
  console.error("fault report: no rows recorded (were the e2e suites run?)");
  process.exit(0);
}
const rows = readdirSync(dir)
  .filter((name) => name.endsWith(".jsonl"))
  .flatMap((name) =>
    readFileSync(join(dir, name), "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => JSON.parse(line)),
  );
const cell = (text) => String(text).replaceAll("|", "\\|").replaceAll("\n", " ");
const table = (kind) => {
  const chosen = rows
    .filter((row) => row.kind === kind)
    .sort((a, b) => a.what.localeCompare(b.what));
  const lines = [
    "| Fault or input | Expected | Observed | Recovery |",
    "| --- | --- | --- | --- |",
    ...chosen.map(
      (row) =>
        `| ${cell(row.what)} | ${cell(row.expected)} | ${cell(row.observed)} | ${
          row.recoveryMs === undefined ? "—" : `${Math.round(row.recoveryMs)} ms`
        } |`,
    ),
  ];
  return { count: chosen.length, text: lines.join("\n") };
};
const faults = table("fault");
const inputs = table("input");
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "unknown CPU"}), ${Math.round(totalmem() / 2 ** 30)} GB, Node ${process.versions.node}`;
const text = `# Faults and bad input: what the test suite breaks, and what held

Written by \`npm test\` (\`scripts/fault-report.mjs\`) from the rows the tests record
once their assertions have passed: a row here is a test that passed in the last run.
Every fault runs against a real livekit-server in its own network namespace.
Last run: ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC on ${machine}.

The kernel here has no netem qdisc (\`Specified qdisc kind is unknown\`, no modules to
load): loss is made with nftables, and delay with iptables NFQUEUE and a small helper
(\`tools/netdelay\`) that holds each packet for the delay.

## Faults (${faults.count})

${faults.text}

## Bad input (${inputs.count})

${inputs.text}
`;
writeFileSync(join(root, "docs", "faults.md"), text);
console.error(
  `fault report: ${faults.count} faults and ${inputs.count} inputs written to docs/faults.md`,
);
