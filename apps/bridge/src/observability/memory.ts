import { getHeapStatistics } from "node:v8";

/** The process's memory figures, as `process.memoryUsage()` gives them. */
export interface MemoryFigures {
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

let lastRss = 0;

/**
 * `process.memoryUsage()` that never throws. Node reads the resident set from
 * /proc/self/stat, which needs a file descriptor: with every descriptor in use it throws
 * EMFILE, and a timer calling it would take the whole process down. Then the last resident
 * figure read stands, and the heap comes from V8, which needs no descriptor.
 */
export function readMemory(): MemoryFigures {
  try {
    const memory = process.memoryUsage();
    lastRss = memory.rss;
    return memory;
  } catch {
    const heap = getHeapStatistics();
    return {
      rss: lastRss,
      heapUsed: heap.used_heap_size,
      heapTotal: heap.total_heap_size,
      external: heap.external_memory,
      arrayBuffers: 0,
    };
  }
}

/** The resident set in bytes, or undefined when it cannot be read now (EMFILE). */
export function readResidentBytes(): number | undefined {
  try {
    const rss = process.memoryUsage.rss();
    lastRss = rss;
    return rss;
  } catch {
    return undefined;
  }
}
