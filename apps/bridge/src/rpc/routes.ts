import type { ConnectRouter } from "@connectrpc/connect";
import { LiveKitBridge } from "@mentra/bridge-proto";
import type { Logger } from "../logger.js";
import type { SessionRegistry } from "../session/registry.js";
import { createAudioSession } from "./audio-session.js";
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
  return (router) =>
    router.service(LiveKitBridge, {
      healthCheck,
      streamAudio: createStreamAudio(options),
      joinRoom: createJoinRoom(options.registry),
      leaveRoom: createLeaveRoom(options.registry),
      playAudio: createPlayAudio(options),
      stopAudio: createStopAudio(options.registry),
      getStatus: createGetStatus(options.registry),
      audioSession: createAudioSession(options),
    });
}

function statsOf(registry: SessionRegistry): BridgeStats {
  return {
    activeSessions: () => registry.counts().sessions,
    activeStreams: () => registry.counts().streams,
  };
}
