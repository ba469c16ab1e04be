// Free of rtc-node, so the session layer can use it before rtc-node has loaded.

/**
 * Why the bridge lost (or left) a room, in the words GetStatus reports as
 * `last_disconnect_reason` and the stream's error carries.
 */
export type DisconnectKind =
  /** Another participant joined with the bridge's identity: someone else owns the user now. */
  | "duplicate_identity"
  /** The room was deleted or closed by the server or an admin. */
  | "room_deleted"
  /** An admin removed the bridge's participant. */
  | "removed"
  /** The LiveKit server shut down or moved the participant away. */
  | "server_shutdown"
  /** The token had expired when the connection had to be re-established. */
  | "token_expired"
  /** Network or signalling failure that the SDK could not resume from. */
  | "network"
  /** A new JoinRoom for the same user replaced the session. */
  | "replaced"
  /** The bridge left on purpose (LeaveRoom, no stream within the grace period). */
  | "left";

/** A classified disconnect. */
export interface Disconnect {
  readonly kind: DisconnectKind;
  /** The SDK's reason name, e.g. "DUPLICATE_IDENTITY", for logs and metadata. */
  readonly sdkReason: string;
}

/**
 * Whether the bridge may rejoin by itself after this disconnect (when it can mint a
 * fresh token). Not after a duplicate identity (another instance owns the user), a
 * removal or a deleted room (someone ended it on purpose), nor after leaving.
 */
export function isRecoverable(kind: DisconnectKind): boolean {
  return kind === "server_shutdown" || kind === "network" || kind === "token_expired";
}
