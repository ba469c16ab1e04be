// Sums the JSON reports that every package's vitest run wrote into one closing
// line, "Summary: N passed, N failed, N skipped", and fails when a package that
// has tests wrote no report or when nothing ran at all.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
let passed = 0;
let failed = 0;
let skipped = 0;
let missing = 0;
const failures = [];
for (const group of ["packages", "apps"]) {
  for (const name of readdirSync(join(root, group))) {
    const dir = join(root, group, name);
    if (!existsSync(join(dir, "test"))) continue;
    const report = join(dir, ".test-results.json");
    if (!existsSync(report)) {
      console.error(`no test report from ${group}/${name} (did its tests run?)`);
      missing++;
      continue;
    }
    const runs = [[name, report]];
    // Packages that also run under Bun (the client) leave a second report.
    const bunReport = join(dir, ".bun-test-results.json");
    if (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).scripts?.["test:bun"]) {
      if (!existsSync(bunReport)) {
        console.error(`no Bun test report from ${group}/${name} (did test:bun run?)`);
        missing++;
      } else runs.push([`${name} (bun)`, bunReport]);
    }
    // Packages with a smoke under Node 24 (the bridge) leave another one.
    const node24Report = join(dir, ".node24-test-results.json");
    if (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).scripts?.["test:node24"]) {
      if (!existsSync(node24Report)) {
        console.error(`no Node 24 test report from ${group}/${name} (did test:node24 run?)`);
        missing++;
      } else runs.push([`${name} (node 24)`, node24Report]);
    }
    for (const [label, file] of runs) {
      const r = JSON.parse(readFileSync(file, "utf8"));
      passed += r.numPassedTests;
      failed += r.numFailedTests;
      skipped += r.numPendingTests + r.numTodoTests;
      console.error(
        `${group}/${label}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests} skipped`,
      );
      for (const file of r.testResults ?? []) {
        const failedTests = (file.assertionResults ?? []).filter((t) => t.status === "failed");
        for (const t of failedTests) failures.push({ label, file: file.name, test: t });
        // A file that failed to load (import error, hook timeout) has no failed test.
        if (file.status === "failed" && failedTests.length === 0) {
          failures.push({
            label,
            file: file.name,
            test: { fullName: "(file)", failureMessages: [file.message] },
          });
        }
      }
    }
  }
}
// Name every failure with the first lines of its error, so that a CI log that
// shows only its tail still says what broke.
for (const { label, file, test } of failures) {
  console.error(`FAILED ${label} ${file.replace(root, "")} > ${test.fullName}`);
  const message = String(test.failureMessages?.[0] ?? "")
    .split("\n")
    .slice(0, 6);
  for (const line of message) console.error(`    ${line}`);
}
console.log(`Summary: ${passed} passed, ${failed + missing} failed, ${skipped} skipped`);
process.exit(failed + missing > 0 || passed === 0 ? 1 : 0);
