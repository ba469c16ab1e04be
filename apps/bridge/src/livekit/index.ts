/**
 * The bridge's only door to LiveKit: everything that touches `@livekit/rtc-node` or
 * `livekit-server-sdk` lives in this folder.
 */
export { dispose as disposeLiveKit } from "@livekit/rtc-node";
export { routeNativeLogs } from "@mentra/livekit-native-logs";
export { type Disconnect, type DisconnectKind, isRecoverable } from "./disconnect.js";
export { type LinkStats, NO_LINK_STATS } from "./link-stats.js";
export type { OutboundTrack, OutboundTrackOptions } from "./outbound-track.js";
export {
  type AudioOrigin,
  abandonedConnects,
  connectRoomLink,
  RoomJoinError,
  type RoomLink,
  type RoomLinkHandlers,
  type RoomLinkOptions,
} from "./room-link.js";
export { identityFor, mintJoinToken, tokenExpiry } from "./token.js";
