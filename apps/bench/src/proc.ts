import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

// Kernel clock ticks per second for /proc CPU times (USER_HZ); 100 on every Linux we run.
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** What /proc says about one process: resident memory and CPU time of all its threads. */
export interface ProcessFigures {
  readonly rssBytes: number;
  readonly cpuSeconds: number;
}

/** Reads VmRSS from /proc/<pid>/status and utime+stime from /proc/<pid>/stat. */
export function readProcess(pid: number): ProcessFigures {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start at ")"; utime and
  // stime are fields 14 and 15 of the whole line, so 12 and 13 after the state field.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  return { rssBytes: rssKb * 1024, cpuSeconds: ticks / CLOCK_TICKS };
}

/** Busy and total CPU time of the whole machine (all cores), in seconds. */
export interface MachineCpu {
  readonly busySeconds: number;
  readonly totalSeconds: number;
}

/** Reads the aggregate "cpu" line of /proc/stat. */
export function readMachineCpu(): MachineCpu {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const ticks = line.trim().split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((a, b) => a + b, 0);
  const idle = (ticks[3] ?? 0) + (ticks[4] ?? 0); // idle + iowait
  return { busySeconds: (total - idle) / CLOCK_TICKS, totalSeconds: total / CLOCK_TICKS };
}

/** CPU seconds per thread group of a process: "main" (the JS thread) and then by thread name. */
export function readThreadCpu(pid: number): Map<string, number> {
  const byName = new Map<string, number>();
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
      const name =
        tid === String(pid)
          ? "main (JS)"
          : stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const seconds = (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) / CLOCK_TICKS;
      byName.set(name, (byName.get(name) ?? 0) + seconds);
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return byName;
}

/** Per-name CPU % of one core between two {@link readThreadCpu} readings, largest first. */
export function threadCpuPct(
  before: Map<string, number>,
  after: Map<string, number>,
  seconds: number,
): Record<string, number> {
  const rows = [...after].map(
    ([name, cpu]) => [name, (100 * (cpu - (before.get(name) ?? 0))) / seconds] as const,
  );
  rows.sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(
    rows.filter(([, pct]) => pct >= 0.5).map(([name, pct]) => [name, Math.round(pct * 10) / 10]),
  );
}

/** The pids of every descendant of `root` whose command name is `comm`. */
export function findDescendants(root: number, comm: string): number[] {
  const parent = new Map<number, number>();
  const names = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      names.set(Number(entry), stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")));
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // Gone already.
    }
  }
  const descends = (pid: number): boolean => {
    for (
      let p = parent.get(pid), hops = 0;
      p !== undefined && p > 1 && hops < 64;
      p = parent.get(p), hops++
    ) {
      if (p === root) return true;
    }
    return false;
  };
  return [...names].filter(([pid, name]) => name === comm && descends(pid)).map(([pid]) => pid);
}
