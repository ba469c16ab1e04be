// Runs a package's tests under Bun (`bun test`), as the cloud runs the client, and
// writes the counts to .bun-test-results.json in vitest's shape, for test-summary.mjs,
// with each failed test named and the first lines of its error.
// Exits with bun's exit code.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { stripVTControlCharacters } from "node:util";

const dir = process.cwd();
const bun = join(dir, "node_modules", ".bin", "bun");
const child = spawn(bun, ["test", "--timeout", "30000", ...process.argv.slice(2)], {
  cwd: dir,
  stdio: ["ignore", "inherit", "pipe"],
});
let tail = "";
let partial = "";
const recent = [];
const failures = [];
// Bun prints a failed test's error first and then "(fail) suite > name [ms]".
function onLine(line) {
  const plain = stripVTControlCharacters(line);
  const failed = /^\(fail\) (.*?)(?: \[[\d.]+m?s\])?$/.exec(plain);
  if (failed) {
    const start = recent.findLastIndex((l) => /^(error\b|\w*Error\b)/.test(l.trim()));
    const message = (start >= 0 ? recent.slice(start) : recent.slice(-6)).slice(0, 6).join("\n");
    failures.push({ status: "failed", fullName: failed[1], failureMessages: [message] });
    recent.length = 0;
    return;
  }
  if (/^\((pass|skip|todo)\) /.test(plain)) recent.length = 0;
  else {
    recent.push(plain);
    if (recent.length > 60) recent.shift();
  }
}
child.stderr.on("data", (chunk) => {
  process.stderr.write(chunk);
  const text = chunk.toString();
  tail = (tail + text).slice(-20_000);
  const lines = (partial + text).split("\n");
  partial = lines.pop() ?? "";
  for (const line of lines) onLine(line);
});
child.on("exit", (code, signal) => {
  if (partial) onLine(partial);
  const count = (word) => Number(new RegExp(`^\\s*(\\d+) ${word}$`, "m").exec(tail)?.[1] ?? 0);
  const report = {
    numPassedTests: count("pass"),
    numFailedTests: count("fail") + (code === 0 ? 0 : count("fail") === 0 ? 1 : 0),
    numPendingTests: count("skip"),
    numTodoTests: count("todo"),
    testResults: [
      {
        name: join(dir, "(bun test)"),
        status: failures.length ? "failed" : "passed",
        assertionResults: failures,
      },
    ],
  };
  writeFileSync(join(dir, ".bun-test-results.json"), `${JSON.stringify(report)}\n`);
  process.exit(code ?? (signal ? 1 : 0));
});
