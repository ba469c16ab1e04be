import { readFileSync } from "node:fs";

/** What bridge-preload.ts counts inside the bridge (cumulative since the bridge started). */
export interface BridgeCounters {
  readonly gc: {
    count: number;
    totalMs: number;
    maxMs: number;
    byKind: Record<string, { count: number; totalMs: number }>;
  };
  /** rtc-node FFI requests, by request kind. */
  readonly ffiRequests: Record<string, number>;
  /** rtc-node FFI events, by event kind (and room or track event kind). */
  readonly ffiEvents: Record<string, number>;
}

/** A window's share of the counters: GC pauses and FFI traffic between two reads. */
export interface CounterWindow {
  readonly gcCount: number;
  readonly gcTotalMs: number;
  /** Largest single pause since the bridge started (not per window: the counter keeps one). */
  readonly gcMaxMsSoFar: number;
  readonly gcByKind: Record<string, { count: number; totalMs: number }>;
  readonly ffiRequests: Record<string, number>;
  readonly ffiEvents: Record<string, number>;
}

/** Reads the counters the preload wrote to `file`; undefined when none were written yet. */
export function readCounters(file: string): BridgeCounters | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as BridgeCounters;
  } catch {
    return undefined;
  }
}

function diff(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(b)) {
    const d = value - (a[key] ?? 0);
    if (d > 0) out[key] = d;
  }
  return out;
}

/** The counters' growth from `before` to `after`. */
export function counterWindow(before: BridgeCounters, after: BridgeCounters): CounterWindow {
  const gcByKind: Record<string, { count: number; totalMs: number }> = {};
  for (const [kind, value] of Object.entries(after.gc.byKind)) {
    const was = before.gc.byKind[kind] ?? { count: 0, totalMs: 0 };
    gcByKind[kind] = {
      count: value.count - was.count,
      totalMs: Math.round((value.totalMs - was.totalMs) * 10) / 10,
    };
  }
  return {
    gcCount: after.gc.count - before.gc.count,
    gcTotalMs: Math.round((after.gc.totalMs - before.gc.totalMs) * 10) / 10,
    gcMaxMsSoFar: Math.round(after.gc.maxMs * 10) / 10,
    gcByKind,
    ffiRequests: diff(before.ffiRequests, after.ffiRequests),
    ffiEvents: diff(before.ffiEvents, after.ffiEvents),
  };
}
