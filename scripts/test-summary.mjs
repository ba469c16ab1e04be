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
    }
  }
}
console.log(`Summary: ${passed} passed, ${failed + missing} failed, ${skipped} skipped`);
process.exit(failed + missing > 0 || passed === 0 ? 1 : 0);
