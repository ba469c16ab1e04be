/** A target of the benchmark issue, judged against what was measured. */
export interface TargetCheck {
  readonly target: string;
  readonly measured: string;
  /** true met, false not met, null not measured by this run. */
  readonly met: boolean | null;
  /** Why, when it is not plainly met. */
  readonly note: string;
}

/** "met", "**not met**" or "not measured", for Markdown. */
export function verdict(met: boolean | null): string {
  if (met === null) return "not measured";
  return met ? "met" : "**not met**";
}

/** A Markdown table of target checks. */
export function targetsTable(checks: readonly TargetCheck[]): string {
  const rows = checks.map(
    (c) => `| ${c.target} | ${c.measured} | ${verdict(c.met)} | ${c.note.replaceAll("|", "/")} |`,
  );
  return ["| target | measured | result | note |", "|---|---|---|---|", ...rows].join("\n");
}
