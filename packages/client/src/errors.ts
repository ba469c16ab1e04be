import { Code, ConnectError } from "@connectrpc/connect";

/**
 * What went wrong, in terms a caller can act on. The one table of how the bridge's
 * Connect codes map to client errors:
 *
 * | kind                | from                                   | retried by the client |
 * |---------------------|----------------------------------------|-----------------------|
 * | `invalid-argument`  | InvalidArgument, OutOfRange            | no: fix the call      |
 * | `no-session`        | FailedPrecondition (no JoinRoom)       | re-joins              |
 * | `join-failed`       | JoinRoom `success=false` (LiveKit said no) | with a fresh token |
 * | `identity-taken`    | Aborted: duplicate identity            | only if asked to      |
 * | `replaced`          | Aborted: another stream or JoinRoom took over | no             |
 * | `unavailable`       | Unavailable, DeadlineExceeded, other Aborted (reset), network | yes, with backoff |
 * | `unauthenticated`   | Unauthenticated, PermissionDenied      | no                    |
 * | `cancelled`         | Canceled, or the caller's AbortSignal  | no                    |
 * | `closed`            | the session was left or closed         | no                    |
 * | `internal`          | Internal, Unknown, anything else       | yes, with backoff     |
 */
export type BridgeErrorKind =
  | "invalid-argument"
  | "no-session"
  | "join-failed"
  | "identity-taken"
  | "replaced"
  | "unavailable"
  | "unauthenticated"
  | "cancelled"
  | "closed"
  | "internal";

/** The error every method of the client throws or reports. */
export class BridgeError extends Error {
  override readonly name = "BridgeError";
  /** What kind of failure it is; switch on this. */
  readonly kind: BridgeErrorKind;
  /** The Connect code it came from, when it came from the bridge. */
  readonly code: Code | undefined;

  constructor(
    kind: BridgeErrorKind,
    message: string,
    options?: { code?: Code | undefined; cause?: unknown },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = options?.code;
  }

  /** Whether the client's reconnect loop retries after this error. */
  get retryable(): boolean {
    return this.kind === "unavailable" || this.kind === "internal" || this.kind === "no-session";
  }
}

/** Maps anything thrown by a Connect call (or an abort) to a {@link BridgeError}. */
export function toBridgeError(error: unknown): BridgeError {
  if (error instanceof BridgeError) return error;
  const connect = ConnectError.from(error);
  const message = connect.rawMessage;
  const make = (kind: BridgeErrorKind) =>
    new BridgeError(kind, message, { code: connect.code, cause: error });
  switch (connect.code) {
    case Code.InvalidArgument:
    case Code.OutOfRange:
      return make("invalid-argument");
    case Code.FailedPrecondition:
      return make("no-session");
    case Code.Aborted:
      // The bridge says which; Node also reports a connection reset as Aborted.
      if (/duplicate identity/i.test(message)) return make("identity-taken");
      if (/replaced/i.test(message)) return make("replaced");
      return make("unavailable");
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.ResourceExhausted:
      return make("unavailable");
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return make("unauthenticated");
    case Code.Canceled:
      return make("cancelled");
    default:
      return make("internal");
  }
}
