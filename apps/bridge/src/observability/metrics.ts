import type { Interceptor } from "@connectrpc/connect";
import * as prom from "prom-client";
import { playbackBufferedBytes } from "../playback/buffer-budget.js";
import { type AudioLatencySink, createAudioLatencyHistogram } from "./audio-latency.js";
import { readMemory } from "./memory.js";
import { sampledGauge } from "./prom-metrics.js";
import { createRpcMetrics } from "./rpc-metrics.js";
import { registerSessionMetrics, SESSION_TOTAL_KEYS } from "./session-metrics.js";
import { createSessionTotals, type SessionSource } from "./session-totals.js";

/** Options of {@link createBridgeMetrics}. */
export interface BridgeMetricsOptions {
  readonly sessions: SessionSource;
  /** Collect Node's default process metrics (CPU, heap, GC…); default true. */
  readonly processMetrics?: boolean;
}

/** The bridge's Prometheus metrics, fed by an interceptor and read at scrape time. */
export interface BridgeMetrics {
  /** Counts every RPC by method and code, its latency, and the audio it carries. */
  readonly interceptor: Interceptor;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<string>;
  /** Content-Type of {@link render}'s output. */
  readonly contentType: string;
  /** The underlying registry, e.g. to add more metrics. */
  readonly registry: prom.Registry;
  /** Calls of a LiveKitBridge method open now, e.g. "PlayAudio" (shutdown waits on them). */
  openCalls(method: string): number;
  /** The histogram of the time audio spends inside the bridge, for the sessions. */
  readonly audioLatency: AudioLatencySink;
}

/**
 * Creates the metrics. Session-level counters (drops) are summed from GetStatus metadata
 * of the users the interceptor saw join, keeping the last figures of closed sessions, so
 * the totals only grow as Prometheus counters should.
 */
export function createBridgeMetrics(options: BridgeMetricsOptions): BridgeMetrics {
  const registry = new prom.Registry();
  if (options.processMetrics !== false) prom.collectDefaultMetrics({ register: registry });
  const { sessions } = options;

  sampledGauge(
    registry,
    "bridge_sessions",
    "Users with a session (the bridge in their LiveKit room) now.",
    () => sessions.counts().sessions,
  );
  sampledGauge(
    registry,
    "bridge_streams",
    "StreamAudio streams attached to a session now.",
    () => sessions.counts().streams,
  );
  sampledGauge(
    registry,
    "bridge_playback_buffered_bytes",
    "Downloaded audio held ahead of play-out by all playbacks (PLAYBACK_BUFFER_TOTAL_BYTES bounds it).",
    playbackBufferedBytes,
  );
  sampledGauge(
    registry,
    "bridge_process_native_memory_bytes",
    "Resident set size minus the V8 heap: native memory (rtc-node, buffers).",
    () => {
      const memory = readMemory();
      return Math.max(0, memory.rss - memory.heapTotal);
    },
  );
  // Session-level counters come from GetStatus metadata of every user seen to join.
  const totals = createSessionTotals(sessions, SESSION_TOTAL_KEYS);
  const rpc = createRpcMetrics({ registry, onJoin: (userId) => totals.users.add(userId) });
  registerSessionMetrics(registry, sessions, totals);

  return {
    interceptor: rpc.interceptor,
    render: () => registry.metrics(),
    contentType: registry.contentType,
    registry,
    openCalls: rpc.openCalls,
    audioLatency: createAudioLatencyHistogram(registry),
  };
}
