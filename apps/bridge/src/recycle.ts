import { readFileSync } from "node:fs";

/** Options of {@link watchResidentMemory}. */
export interface MemoryWatchOptions {
  /** Resident memory in MB past which `onExceeded` is called, once; 0 never. */
  readonly limitMb: number;
  readonly intervalMs: number;
  readonly onExceeded: (rssMb: number) => void;
  /** Reads the resident set size in bytes; the process's own by default. */
  readonly readRss?: () => number;
}

/** The process's resident set size, from /proc where there is one (it counts every thread). */
function residentBytes(): number {
  try {
    const status = readFileSync("/proc/self/status", "utf8");
    const kb = /VmRSS:\s+(\d+)/.exec(status)?.[1];
    if (kb !== undefined) return Number(kb) * 1024;
  } catch {
    // Not Linux: Node's own figure.
  }
  return process.memoryUsage.rss();
}

/**
 * Compares resident memory with a limit every `intervalMs` and calls `onExceeded` the
 * first time it is over. Returns the stop function. The timer does not hold the process
 * open.
 */
export function watchResidentMemory(options: MemoryWatchOptions): () => void {
  if (options.limitMb <= 0) return () => {};
  const read = options.readRss ?? residentBytes;
  const timer = setInterval(() => {
    const rssMb = read() / 1024 / 1024;
    if (rssMb <= options.limitMb) return;
    clearInterval(timer);
    options.onExceeded(Math.round(rssMb));
  }, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
