import { type MachineInfo, machineLabel } from "./machine.js";
import type { PlotPanel } from "./plot.js";
import type { SoakResult } from "./soak.js";
import { mib, round } from "./stats.js";
import { type TargetCheck, targetsTable } from "./targets.js";

/** Everything `npm run soak` writes to soak.json. */
export interface SoakReport {
  readonly kind: "soak";
  readonly machine: MachineInfo;
  readonly config: {
    readonly users: number;
    readonly minutes: number;
    readonly cycles: number;
    readonly warmupSeconds: number;
  };
  readonly result: SoakResult;
  readonly targets: TargetCheck[];
  readonly notes: string[];
}

/** Judges a soak against the targets. */
export function judgeSoak(result: SoakResult, minutes: number): TargetCheck[] {
  const { churn } = result;
  const short = minutes < 10;
  return [
    {
      target: "soak slope ≤ 2 MB/hour",
      measured: `RSS ${result.slopeMBPerHour.rss} MB/h, RSS−heap ${result.slopeMBPerHour.native} MB/h, heap ${result.slopeMBPerHour.heapUsed} MB/h`,
      met: result.samples.length >= 2 ? result.slopeMBPerHour.rss <= 2 : null,
      note: short ? `only ${minutes} min: the slope is dominated by noise` : `over ${minutes} min`,
    },
    {
      target: "churn: RSS back within 10% of baseline",
      measured: churn.final ? `${churn.rssDeltaPct}% after ${churn.cycles} cycles` : "-",
      met: churn.final ? Math.abs(churn.rssDeltaPct) <= 10 : null,
      note: churn.failures > 0 ? `${churn.failures} cycles failed: ${churn.lastError}` : "",
    },
    {
      target: "churn: handles back exactly to baseline",
      measured: churn.final
        ? `${churn.handlesDelta >= 0 ? "+" : ""}${churn.handlesDelta} handles`
        : "-",
      met: churn.final ? churn.handlesDelta === 0 : null,
      note: "process.getActiveResourcesInfo() inside the bridge, via HealthCheck",
    },
  ];
}

const mb = (bytes: number) => round(mib(bytes));

/** The Markdown of a soak report. */
export function soakMarkdown(report: SoakReport): string {
  const r = report.result;
  const c = r.churn;
  const line = (
    label: string,
    s: { rssBytes: number; nativeBytes: number; activeHandles: number } | undefined,
  ) =>
    s
      ? `| ${label} | ${mb(s.rssBytes)} | ${mb(s.nativeBytes)} | ${s.activeHandles} |`
      : `| ${label} | - | - | - |`;
  return [
    `### Soak: ${machineLabel(report.machine)}`,
    "",
    `${report.config.users} users under real-time load both ways for ${report.config.minutes} min (after a ${report.config.warmupSeconds} s warm-up that ran the same load, then left), sampled ${r.samples.length} times; then ${c.cycles} join → first audio → leave cycles (${c.failures} failed) in ${round(c.durationMs / 1000)} s. Packets during the soak: ${r.packets.received}/${r.packets.sent} received, ${r.packets.gaps} gaps, ${r.packets.duplicates} duplicates.`,
    "",
    "The three rows below are taken with no session, after a forced full garbage collection (a heap snapshot), so lazily collected garbage does not read as a leak.",
    "",
    "| bridge, no sessions | RSS MB | RSS−heap MB | handles |",
    "|---|---|---|---|",
    line("baseline (after warm-up)", r.baseline),
    line("after the soak", r.afterSoak),
    line(`after ${c.cycles} join/leave cycles`, c.final),
    "",
    targetsTable(report.targets),
    ...(report.notes.length > 0 ? ["", ...report.notes.map((n) => `- ${n}`)] : []),
    "",
  ].join("\n");
}

/** The soak figure: memory and handles over time. */
export function soakPanels(result: SoakResult): PlotPanel[] {
  const s = result.samples;
  return [
    {
      title: "Bridge memory during the soak",
      xTitle: "minutes",
      yTitle: "MB",
      points: [
        ...s.map((p) => ({ x: p.minutes, y: p.rssMB, series: "RSS" })),
        ...s.map((p) => ({ x: p.minutes, y: p.nativeMB, series: "RSS − heap" })),
        ...s.map((p) => ({ x: p.minutes, y: p.heapUsedMB, series: "heap used" })),
      ],
    },
    {
      title: "Active handles",
      xTitle: "minutes",
      yTitle: "handles",
      points: s.map((p) => ({ x: p.minutes, y: p.activeHandles, series: "handles" })),
    },
  ];
}
