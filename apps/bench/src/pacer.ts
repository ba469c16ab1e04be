import { percentiles } from "./stats.js";

/** How well the load generator kept real time since the last reset. */
export interface PacerLateness {
  /** How late ticks ran behind their schedule, ms. */
  readonly lateP99Ms: number;
  readonly lateMaxMs: number;
  /** Ticks dropped because the generator fell more than 200 ms behind. */
  readonly skippedTicks: number;
}

/** Drives every user's 20 ms tick from one timer. */
export interface Pacer {
  lateness(): PacerLateness;
  resetLateness(): void;
  /** Stops ticking; idempotent. */
  stop(): void;
}

const FRAME_MS = 20;
// Further behind than this, the generator skips ticks rather than bursting.
const MAX_CATCH_UP_MS = 200;

/** Starts ticking `targets()` every 20 ms of wall-clock time, catching up when late. */
export function startPacer(targets: () => Iterable<{ tick(): void }>): Pacer {
  let next = Date.now() + FRAME_MS;
  let late: number[] = [];
  let skipped = 0;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const run = () => {
    if (stopped) return;
    const now = Date.now();
    if (now - next > MAX_CATCH_UP_MS) {
      const behind = Math.floor((now - next) / FRAME_MS);
      skipped += behind;
      next += behind * FRAME_MS;
    }
    while (next <= now) {
      late.push(now - next);
      for (const target of targets()) target.tick();
      next += FRAME_MS;
    }
    timer = setTimeout(run, Math.max(0, next - Date.now()));
  };
  timer = setTimeout(run, FRAME_MS);
  return {
    lateness() {
      const p = percentiles(late);
      return { lateP99Ms: p.p99, lateMaxMs: p.max, skippedTicks: skipped };
    },
    resetLateness() {
      late = [];
      skipped = 0;
    },
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
