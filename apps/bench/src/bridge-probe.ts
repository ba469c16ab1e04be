import type { BridgeClient } from "@mentra/bridge-client";
import { readProcess } from "./proc.js";

/** One look at the bridge process: /proc figures and its HealthCheck metadata. */
export interface BridgeSample {
  /** Epoch ms of the sample. */
  readonly atMs: number;
  /** VmRSS from /proc (the whole process, native memory included). */
  readonly rssBytes: number;
  /** V8 heap in use, from HealthCheck. */
  readonly heapUsedBytes: number;
  /** RSS − heapUsed: native memory (rtc-node, buffers, code) plus heap slack. */
  readonly nativeBytes: number;
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  /** process.getActiveResourcesInfo().length inside the bridge. */
  readonly activeHandles: number;
  /** Event-loop delay since the previous HealthCheck (the bridge resets it per call). */
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  readonly activeSessions: number;
  /** utime+stime of all its threads so far, from /proc. */
  readonly cpuSeconds: number;
}

/** Samples the bridge process `pid` through /proc and HealthCheck. */
export interface BridgeProbe {
  sample(): Promise<BridgeSample>;
}

const metric = (metadata: Record<string, string>, key: string) => {
  const value = Number(metadata[key]);
  if (!Number.isFinite(value)) throw new Error(`HealthCheck metadata lacks a numeric "${key}"`);
  return value;
};

/** Creates a probe of the bridge process with `pid`, answering HealthCheck through `client`. */
export function createBridgeProbe(pid: number, client: BridgeClient): BridgeProbe {
  return {
    async sample() {
      const health = await client.rpc.healthCheck({}, { timeoutMs: 5_000 });
      const proc = readProcess(pid);
      const m = health.metadata;
      const heapUsedBytes = metric(m, "heap_used_bytes");
      return {
        atMs: Date.now(),
        rssBytes: proc.rssBytes,
        heapUsedBytes,
        nativeBytes: proc.rssBytes - heapUsedBytes,
        externalBytes: metric(m, "external_bytes"),
        arrayBuffersBytes: metric(m, "array_buffers_bytes"),
        activeHandles: metric(m, "active_handles"),
        loopDelayP99Ms: metric(m, "event_loop_delay_p99_ms"),
        loopDelayMaxMs: metric(m, "event_loop_delay_max_ms"),
        activeSessions: health.activeSessions,
        cpuSeconds: proc.cpuSeconds,
      };
    },
  };
}
