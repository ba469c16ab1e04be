import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

/** One row of the fault report: something broken on purpose, and what the bridge did. */
export interface FaultRecord {
  /** "fault" for a broken part (network, process, peer), "input" for hostile input. */
  readonly kind: "fault" | "input";
  /** What was done, e.g. "link to LiveKit down for 5 s". */
  readonly what: string;
  /** What must hold. */
  readonly expected: string;
  /** What the test saw, with its numbers. */
  readonly observed: string;
  /** From the end of the fault to full service again, when that applies (ms). */
  readonly recoveryMs?: number;
}

/** Where `npm test` collects the rows; unset (a lone vitest run) means nothing is written. */
export const FAULT_REPORT_DIR_ENV = "MENTRA_FAULT_REPORT_DIR";

/**
 * Adds a row to the fault report that `npm test` writes to docs/faults.md. Call it after
 * the test's assertions passed, so that the report only shows what held.
 */
export function recordFault(record: FaultRecord): void {
  const dir = process.env[FAULT_REPORT_DIR_ENV];
  if (dir === undefined || dir === "") return;
  mkdirSync(dir, { recursive: true });
  const row = { ...record, at: Date.now() };
  appendFileSync(join(dir, `${process.pid}.jsonl`), `${JSON.stringify(row)}\n`);
}
