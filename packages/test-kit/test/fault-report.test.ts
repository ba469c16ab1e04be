import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { FAULT_REPORT_DIR_ENV, recordFault } from "../src/fault-report.js";

describe("recordFault", () => {
  const saved = process.env[FAULT_REPORT_DIR_ENV];
  const dirs: string[] = [];
  afterEach(() => {
    if (saved === undefined) delete process.env[FAULT_REPORT_DIR_ENV];
    else process.env[FAULT_REPORT_DIR_ENV] = saved;
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("appends one JSON line per row to this process's file", () => {
    const dir = mkdtempSync(join(tmpdir(), "fault-report-"));
    dirs.push(dir);
    process.env[FAULT_REPORT_DIR_ENV] = join(dir, "rows");
    recordFault({ kind: "fault", what: "a", expected: "b", observed: "c", recoveryMs: 12 });
    recordFault({ kind: "input", what: "d", expected: "e", observed: "f" });
    const files = readdirSync(join(dir, "rows"));
    expect(files).toEqual([`${process.pid}.jsonl`]);
    const rows = readFileSync(join(dir, "rows", files[0] ?? ""), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(rows).toMatchObject([
      { kind: "fault", what: "a", expected: "b", observed: "c", recoveryMs: 12 },
      { kind: "input", what: "d", expected: "e", observed: "f" },
    ]);
    expect(typeof rows[0].at).toBe("number");
  });

  it("writes nothing when the report directory is not set", () => {
    delete process.env[FAULT_REPORT_DIR_ENV];
    expect(() =>
      recordFault({ kind: "fault", what: "a", expected: "b", observed: "c" }),
    ).not.toThrow();
  });
});
