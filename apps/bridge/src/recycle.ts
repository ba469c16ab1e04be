import { readResidentBytes } from "./observability/memory.js";

/** Options of {@link watchResidentMemory}. */
export interface MemoryWatchOptions {
  /** Resident memory in MB past which `onExceeded` is called, once; 0 never. */
  readonly limitMb: number;
  readonly intervalMs: number;
  readonly onExceeded: (rssMb: number) => void;
}

/**
 * Compares resident memory with a limit every `intervalMs` and calls `onExceeded` the
 * first time it is over. Returns the stop function. The timer does not hold the process
 * open.
 */
export function watchResidentMemory(options: MemoryWatchOptions): () => void {
  if (options.limitMb <= 0) return () => {};
  const timer = setInterval(() => {
    // The whole process's resident set (native threads included), as /proc counts it;
    // unreadable while descriptors run out (EMFILE), and then the next tick tries again.
    const rss = readResidentBytes();
    if (rss === undefined) return;
    const rssMb = rss / 1024 / 1024;
    if (rssMb <= options.limitMb) return;
    clearInterval(timer);
    options.onExceeded(Math.round(rssMb));
  }, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
