// Loaded into the bridge with `node --import` when the bench runs with --profile: counts
// what a CPU profile does not show. GC pauses (perf_hooks "gc" entries) and rtc-node's FFI
// traffic (requests by kind, events by kind) go to $BENCH_PROBE_FILE as cumulative JSON
// once a second, so the bench can take each window's difference. Never loaded in normal
// runs: it wraps rtc-node's FfiClient, which the measured bridge must not carry.
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import type { BridgeCounters } from "./bridge-counters.js";

const file = process.env.BENCH_PROBE_FILE;
const main = process.argv[1];
if (file !== undefined && main !== undefined) {
  const counters: BridgeCounters = {
    gc: { count: 0, totalMs: 0, maxMs: 0, byKind: {} },
    ffiRequests: {},
    ffiEvents: {},
  };
  const GC_KINDS: Record<number, string> = {
    1: "minor",
    2: "major",
    4: "incremental",
    8: "weakcb",
  };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const detail = (entry as { detail?: { kind?: number } }).detail;
      const kind = GC_KINDS[detail?.kind ?? 0] ?? "other";
      const gc = counters.gc;
      gc.count++;
      gc.totalMs += entry.duration;
      gc.maxMs = Math.max(gc.maxMs, entry.duration);
      const byKind = gc.byKind[kind] ?? { count: 0, totalMs: 0 };
      gc.byKind[kind] = byKind;
      byKind.count++;
      byKind.totalMs += entry.duration;
    }
  }).observe({ entryTypes: ["gc"] });

  // The FfiClient class itself, by file: rtc-node's package exports hide it, and its
  // index.cjs requires this very file, so the bridge gets the patched prototype.
  const require = createRequire(main);
  const index = require.resolve("@livekit/rtc-node");
  const { FfiClient } = require(join(dirname(index), "ffi_client.cjs")) as {
    FfiClient: { prototype: Record<string, (...args: unknown[]) => unknown> };
  };
  const proto = FfiClient.prototype;
  const request = proto.request as (req: { message?: { case?: string } }) => unknown;
  const emit = proto.emit as (name: string, ...args: unknown[]) => boolean;
  const bump = (map: Record<string, number>, key: string) => {
    map[key] = (map[key] ?? 0) + 1;
  };
  proto.request = function (this: unknown, req: unknown) {
    bump(counters.ffiRequests, (req as { message?: { case?: string } }).message?.case ?? "?");
    return request.call(this, req as { message?: { case?: string } });
  };
  proto.emit = function (this: unknown, name: unknown, ...args: unknown[]) {
    if (name === "ffi_event") {
      const event = args[0] as {
        message?: { case?: string; value?: { message?: { case?: string } } };
      };
      const kind = event.message?.case ?? "?";
      // Room and track events carry their own kind one level down: name both.
      const inner = event.message?.value?.message?.case;
      bump(counters.ffiEvents, inner === undefined ? kind : `${kind}.${inner}`);
    }
    return emit.call(this, name as string, ...args);
  };

  const write = () => writeFileSync(file, JSON.stringify(counters));
  setInterval(write, 1_000).unref();
  process.once("exit", write);
}
