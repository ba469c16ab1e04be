import { monitorEventLoopDelay } from "node:perf_hooks";
import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  type HealthCheckRequest,
  HealthCheckResponse_ServingStatus,
  type HealthCheckResponseSchema,
  LiveKitBridge,
} from "@mentra/bridge-proto";
import { readMemory } from "../observability/memory.js";
import { BRIDGE_VERSION } from "../version.js";

// Event-loop delay, reported as p99 and max since the previous HealthCheck (then reset),
// so a poller (the benchmark, a dashboard) sees each interval on its own.
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

/** Live counters the health check reports; the session layer provides the real ones. */
export interface BridgeStats {
  /** Users with a session (in a room) now. */
  activeSessions(): number;
  /** StreamAudio calls open now. */
  activeStreams(): number;
}

/** Stats of a bridge that has no sessions yet: both counters are always 0. */
export const noSessionStats: BridgeStats = { activeSessions: () => 0, activeStreams: () => 0 };

/** Options of {@link createHealthCheck}. */
export interface HealthCheckOptions {
  /** Where the session and stream counts come from. */
  readonly stats: BridgeStats;
  /** Aborted once the bridge starts draining; from then on it reports NOT_SERVING. */
  readonly shutdownSignal?: AbortSignal;
  /** Epoch milliseconds uptime counts from; defaults to the start of the process. */
  readonly startedAtMs?: number;
  /** Clock in epoch milliseconds; tests pass a fake one. */
  readonly now?: () => number;
  /** Reported as metadata `version`; defaults to the package version. */
  readonly version?: string;
}

/** The response of HealthCheck, as handed to Connect. */
export type HealthCheckReply = MessageInitShape<typeof HealthCheckResponseSchema>;

// The empty name asks about the server as a whole, as in grpc.health.v1.
const KNOWN_SERVICES = new Set(["", LiveKitBridge.typeName]);

/**
 * Creates the HealthCheck implementation: SERVING with real uptime, counts and process
 * figures; NOT_SERVING while draining; SERVICE_UNKNOWN for a service this bridge lacks.
 */
export function createHealthCheck(
  options: HealthCheckOptions,
): (request: HealthCheckRequest) => HealthCheckReply {
  const now = options.now ?? Date.now;
  const startedAtMs = options.startedAtMs ?? performance.timeOrigin;
  const version = options.version ?? BRIDGE_VERSION;
  return (request) => {
    if (!KNOWN_SERVICES.has(request.service)) {
      return { status: HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN };
    }
    const memory = readMemory();
    const delayP99 = loopDelay.percentile(99);
    const delayMax = loopDelay.max;
    loopDelay.reset();
    return {
      status:
        options.shutdownSignal?.aborted === true
          ? HealthCheckResponse_ServingStatus.NOT_SERVING
          : HealthCheckResponse_ServingStatus.SERVING,
      activeSessions: options.stats.activeSessions(),
      activeStreams: options.stats.activeStreams(),
      uptimeSeconds: BigInt(Math.max(0, Math.floor((now() - startedAtMs) / 1000))),
      metadata: {
        version,
        rss_bytes: String(memory.rss),
        heap_used_bytes: String(memory.heapUsed),
        heap_total_bytes: String(memory.heapTotal),
        external_bytes: String(memory.external),
        array_buffers_bytes: String(memory.arrayBuffers),
        active_handles: String(process.getActiveResourcesInfo().length),
        event_loop_delay_p99_ms: (delayP99 / 1e6).toFixed(2),
        event_loop_delay_max_ms: (delayMax / 1e6).toFixed(2),
        node_version: process.version,
        // The Node flags it runs with (every launcher passes apps/bridge/node-flags.json).
        node_flags: process.execArgv.join(" "),
      },
    };
  };
}
