// Runs a package's tests under Bun (`bun test`), as the cloud runs the client, and
// writes the counts to .bun-test-results.json in vitest's shape, for test-summary.mjs.
// Exits with bun's exit code.
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

const dir = process.cwd();
const bun = join(dir, "node_modules", ".bin", "bun");
const child = spawn(bun, ["test", "--timeout", "30000", ...process.argv.slice(2)], {
  cwd: dir,
  stdio: ["ignore", "inherit", "pipe"],
});
let output = "";
child.stderr.on("data", (chunk) => {
  process.stderr.write(chunk);
  output = (output + chunk.toString()).slice(-20_000);
});
child.on("exit", (code, signal) => {
  const count = (word) => Number(new RegExp(`^\\s*(\\d+) ${word}$`, "m").exec(output)?.[1] ?? 0);
  const report = {
    numPassedTests: count("pass"),
    numFailedTests: count("fail") + (code === 0 ? 0 : count("fail") === 0 ? 1 : 0),
    numPendingTests: count("skip"),
    numTodoTests: count("todo"),
  };
  writeFileSync(join(dir, ".bun-test-results.json"), `${JSON.stringify(report)}\n`);
  process.exit(code ?? (signal ? 1 : 0));
});
