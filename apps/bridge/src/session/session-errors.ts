import type { DisconnectKind } from "../livekit/index.js";

/**
 * What went wrong with a user's session, for callers to switch on; rpc/errors.ts maps
 * each kind to its Connect code, in one place.
 */
export type SessionErrorKind =
  /** Another participant joined with the bridge's identity: another instance owns the user. */
  | "duplicate_identity"
  /** A new JoinRoom, or a newer stream, took this one's place. */
  | "replaced"
  /** The room lost the bridge (the participant left by itself). */
  | "ended"
  /** The room is lost or left (network, deleted, removed, server shut down, rejoin failed). */
  | "room_lost"
  /** The room was lost and the cloud's token has expired, so the bridge cannot rejoin. */
  | "token_expired"
  /** The session is closing and takes no new stream or playback. */
  | "closing"
  /** The user has no session: JoinRoom first. */
  | "no_session"
  /** The bridge is shutting down and takes no new sessions. */
  | "draining";

/** An error of the session layer, with a {@link SessionErrorKind} and a message a person can act on. */
export class SessionError extends Error {
  override readonly name = "SessionError";

  constructor(
    readonly kind: SessionErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** The session is closing: it takes no new stream or playback. */
export function sessionClosing(userId: string): SessionError {
  return new SessionError("closing", `the session of user ${userId} is closing`);
}

/** The user has no session. */
export function noSession(userId: string): SessionError {
  return new SessionError("no_session", `no session for user ${userId}: call JoinRoom first`);
}

/** The bridge is shutting down: a new session has to go to another instance. */
export function shuttingDown(): SessionError {
  return new SessionError(
    "draining",
    "the bridge is shutting down and takes no new sessions: join another instance",
  );
}

/** A newer stream for the user took the attached one's place. */
export function replacedByNewerStream(userId: string): SessionError {
  return new SessionError("replaced", `replaced by a newer StreamAudio stream for user ${userId}`);
}

/** The session has no room link (lost, left, rejoining failed). */
export function notInRoom(userId: string, roomName: string, reason: string): SessionError {
  return new SessionError(
    "room_lost",
    `user ${userId} is not in room ${roomName} (${reason}); call JoinRoom again`,
  );
}

/** Why the session ended its stream, as the cloud reads it. */
export function streamEnded(
  userId: string,
  roomName: string,
  kind: DisconnectKind,
  detail: string,
): SessionError {
  const suffix = detail === "" ? "" : `; ${detail}`;
  switch (kind) {
    case "duplicate_identity":
      return new SessionError(
        "duplicate_identity",
        `another participant joined room ${roomName} with the bridge's identity ` +
          `(duplicate identity): another instance owns user ${userId} now${suffix}`,
      );
    case "replaced":
      return new SessionError(
        "replaced",
        `the session of user ${userId} was replaced by a new JoinRoom${suffix}`,
      );
    case "left":
      return new SessionError("ended", `the session of user ${userId} ended${suffix}`);
    default:
      return new SessionError(
        kind === "token_expired" ? "token_expired" : "room_lost",
        `lost room ${roomName} for user ${userId}: ${kind}${suffix}`,
      );
  }
}
