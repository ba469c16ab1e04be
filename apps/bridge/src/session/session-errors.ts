import { Code, ConnectError } from "@connectrpc/connect";
import type { DisconnectKind } from "../livekit/index.js";

/** The session is closing: it takes no new stream or playback. */
export function sessionClosing(userId: string): ConnectError {
  return new ConnectError(`the session of user ${userId} is closing`, Code.FailedPrecondition);
}

/** A newer stream for the user took the attached one's place. */
export function replacedByNewerStream(userId: string): ConnectError {
  return new ConnectError(
    `replaced by a newer StreamAudio stream for user ${userId}`,
    Code.Aborted,
  );
}

/** The session has no room link (lost, left, rejoining failed). */
export function notInRoom(userId: string, roomName: string, reason: string): ConnectError {
  return new ConnectError(
    `user ${userId} is not in room ${roomName} (${reason}); call JoinRoom again`,
    Code.Unavailable,
  );
}

/** Why the session ended its stream, as the cloud reads it. */
export function streamEnded(
  userId: string,
  roomName: string,
  kind: DisconnectKind,
  detail: string,
): ConnectError {
  const suffix = detail === "" ? "" : `; ${detail}`;
  switch (kind) {
    case "duplicate_identity":
      return new ConnectError(
        `another participant joined room ${roomName} with the bridge's identity ` +
          `(duplicate identity): another instance owns user ${userId} now${suffix}`,
        Code.Aborted,
      );
    case "replaced":
      return new ConnectError(
        `the session of user ${userId} was replaced by a new JoinRoom${suffix}`,
        Code.Aborted,
      );
    case "left":
      return new ConnectError(`the session of user ${userId} ended${suffix}`, Code.Canceled);
    default:
      return new ConnectError(
        `lost room ${roomName} for user ${userId}: ${kind}${suffix}`,
        Code.Unavailable,
      );
  }
}
