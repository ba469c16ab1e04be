/**
 * `@mentra/bridge-client`: what the MentraOS cloud imports to talk to the LiveKit bridge.
 * One client per bridge; `join()` returns a session that survives stream breaks and
 * bridge restarts. See the package README.
 */

export { BridgeErrorReason } from "@mentra/bridge-proto";
export type { BackoffOptions } from "./backoff.js";
export { backoffDelay } from "./backoff.js";
export {
  type BridgeClient,
  type BridgeClientEvents,
  type BridgeClientOptions,
  type BridgeHealth,
  type BridgeProtocol,
  type CallOptions,
  createBridgeClient,
} from "./create-bridge-client.js";
export type { DiscoverOptions, EndpointResolver } from "./dns-discovery.js";
export { rankEndpoints } from "./endpoint-router.js";
export { BridgeError, type BridgeErrorKind, toBridgeError } from "./errors.js";
export type { Playback, PlaybackEvent, PlaybackOutcome, PlayOptions } from "./playback.js";
export type { JoinRequest, SessionStatus } from "./rpc-calls.js";
export type {
  AudioFrame,
  BridgeSession,
  ClearOutcome,
  MarkOutcome,
  SendOptions,
  SessionEvents,
  SessionStats,
  TokenSource,
  TrackStats,
} from "./session/types.js";
export type { SpliceMethod } from "./stream-splicer.js";
export {
  RAISES_RECEIVE_WINDOW,
  RECEIVE_WINDOW_BYTES,
  WindowedSessionManager,
} from "./windowed-session-manager.js";
