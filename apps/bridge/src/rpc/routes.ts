import type { ConnectRouter } from "@connectrpc/connect";
import { LiveKitBridge } from "@mentra/bridge-proto";
import type { Logger } from "../logger.js";
import type { SessionRegistry } from "../session/registry.js";
import { createAudioSession } from "./audio-session.js";
import { mapStreamErrors, mapUnaryErrors } from "./errors.js";
import { createGetStatus } from "./get-status.js";
import { type BridgeStats, createHealthCheck, type HealthCheckOptions } from "./health-check.js";
import { createJoinRoom } from "./join-room.js";
import { createLeaveRoom } from "./leave-room.js";
import { createPlayAudio } from "./play-audio.js";
import { createStopAudio } from "./stop-audio.js";
import { createStreamAudio } from "./stream-audio.js";

/** Options of {@link createBridgeRoutes}. */
export interface BridgeRoutesOptions {
  /** The sessions JoinRoom, LeaveRoom, StreamAudio, PlayAudio, StopAudio and GetStatus work on. */
  readonly registry: SessionRegistry;
  /** Largest pcm_data accepted in one AudioChunk. */
  readonly maxChunkBytes: number;
  readonly logger: Logger;
  /** Replaces the registry's counts in HealthCheck, for tests. */
  readonly stats?: BridgeStats;
  /** The server's shutdown signal; aborted means draining. */
  readonly shutdownSignal?: AbortSignal;
  /** Overrides for HealthCheck (clock, start time, version), mostly for tests. */
  readonly health?: Omit<HealthCheckOptions, "stats" | "shutdownSignal">;
}

/**
 * Creates the routes of `mentra.livekit.bridge.LiveKitBridge` for a Connect router
 * (`connectNodeAdapter`, `createRouterTransport`).
 */
export function createBridgeRoutes(options: BridgeRoutesOptions): (router: ConnectRouter) => void {
  const healthCheck = createHealthCheck({
    ...options.health,
    stats: options.stats ?? statsOf(options.registry),
    ...(options.shutdownSignal === undefined ? {} : { shutdownSignal: options.shutdownSignal }),
  });
  // Every handler's errors reach the wire through toConnectError, the one place that
  // gives a session error, bad audio or a bad URL its code.
  return (router) =>
    router.service(LiveKitBridge, {
      healthCheck: mapUnaryErrors(healthCheck),
      streamAudio: mapStreamErrors(createStreamAudio(options)),
      joinRoom: mapUnaryErrors(createJoinRoom(options.registry)),
      leaveRoom: mapUnaryErrors(createLeaveRoom(options.registry)),
      playAudio: mapStreamErrors(createPlayAudio(options)),
      stopAudio: mapUnaryErrors(createStopAudio(options.registry)),
      getStatus: mapUnaryErrors(createGetStatus(options.registry)),
      audioSession: mapStreamErrors(createAudioSession(options)),
    });
}

function statsOf(registry: SessionRegistry): BridgeStats {
  return {
    activeSessions: () => registry.counts().sessions,
    activeStreams: () => registry.counts().streams,
  };
}
