import { DisconnectReason } from "@livekit/rtc-node";
import type { Disconnect } from "./disconnect-kind.js";

/**
 * Maps rtc-node's DisconnectReason to a {@link DisconnectKind}. `tokenExpired` tells
 * whether the token the room was joined with has expired by now: a signalling failure
 * with an expired token is reported as such, since retrying with it cannot work.
 */
export function classifyDisconnect(reason: DisconnectReason, tokenExpired: boolean): Disconnect {
  const sdkReason = DisconnectReason[reason] ?? `REASON_${reason}`;
  switch (reason) {
    case DisconnectReason.DUPLICATE_IDENTITY:
      return { kind: "duplicate_identity", sdkReason };
    case DisconnectReason.ROOM_DELETED:
    case DisconnectReason.ROOM_CLOSED:
      return { kind: "room_deleted", sdkReason };
    case DisconnectReason.PARTICIPANT_REMOVED:
      return { kind: "removed", sdkReason };
    case DisconnectReason.SERVER_SHUTDOWN:
    case DisconnectReason.MIGRATION:
      return { kind: "server_shutdown", sdkReason };
    case DisconnectReason.CLIENT_INITIATED:
      return { kind: "left", sdkReason };
    default:
      return { kind: tokenExpired ? "token_expired" : "network", sdkReason };
  }
}
