import type { ConnectRouter } from "@connectrpc/connect";
import { LiveKitBridge } from "@mentra/bridge-proto";
import { type BridgeStats, createHealthCheck, type HealthCheckOptions } from "./health-check.js";
import { notImplemented } from "./unimplemented.js";

/** Options of {@link createBridgeRoutes}. */
export interface BridgeRoutesOptions {
  /** Live counters for HealthCheck. */
  readonly stats: BridgeStats;
  /** The server's shutdown signal; aborted means draining. */
  readonly shutdownSignal?: AbortSignal;
  /** Overrides for HealthCheck (clock, start time, version), mostly for tests. */
  readonly health?: Omit<HealthCheckOptions, "stats" | "shutdownSignal">;
}

/**
 * Creates the routes of `mentra.livekit.bridge.LiveKitBridge` for a Connect router
 * (`connectNodeAdapter`, `createRouterTransport`). RPCs not built yet answer
 * Unimplemented with the method's name.
 */
export function createBridgeRoutes(options: BridgeRoutesOptions): (router: ConnectRouter) => void {
  const healthCheck = createHealthCheck({
    ...options.health,
    stats: options.stats,
    ...(options.shutdownSignal === undefined ? {} : { shutdownSignal: options.shutdownSignal }),
  });
  return (router) =>
    router.service(LiveKitBridge, {
      healthCheck,
      streamAudio() {
        throw notImplemented("StreamAudio");
      },
      joinRoom() {
        throw notImplemented("JoinRoom");
      },
      leaveRoom() {
        throw notImplemented("LeaveRoom");
      },
      playAudio() {
        throw notImplemented("PlayAudio");
      },
      stopAudio() {
        throw notImplemented("StopAudio");
      },
      getStatus() {
        throw notImplemented("GetStatus");
      },
    });
}
