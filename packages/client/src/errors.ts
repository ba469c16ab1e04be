import { Code, ConnectError } from "@connectrpc/connect";
import { BridgeErrorDetailSchema, BridgeErrorReason } from "@mentra/bridge-proto";

/**
 * What went wrong, in terms a caller can act on. The bridge sends its reason with every
 * error (a BridgeErrorDetail); the kind follows from it, or from the Connect code when
 * none came (a network error, an older bridge). The one table of how they map:
 *
 * | kind                | reason (code without one)                                  | retried by the client |
 * |---------------------|-------------------------------------------------------------|-----------------------|
 * | `invalid-argument`  | INVALID_ARGUMENT (InvalidArgument, OutOfRange)              | no: fix the call      |
 * | `no-session`        | NO_SESSION, SESSION_CLOSING (FailedPrecondition)            | re-joins              |
 * | `join-failed`       | JoinRoom `success=false` (LiveKit said no)                  | with a fresh token    |
 * | `identity-taken`    | DUPLICATE_IDENTITY                                          | only if asked to      |
 * | `replaced`          | REPLACED: another stream or JoinRoom took over              | no                    |
 * | `unavailable`       | DRAINING, ROOM_LOST, TOKEN_EXPIRED, LIMIT_REACHED, TIMEOUT (Unavailable, DeadlineExceeded, ResourceExhausted, Aborted, network) | yes, with backoff |
 * | `unauthenticated`   | UNAUTHENTICATED, PERMISSION_DENIED                          | no                    |
 * | `cancelled`         | CANCELLED, SESSION_ENDED (Canceled), or the caller's AbortSignal | no               |
 * | `closed`            | the session was left or closed                              | no                    |
 * | `internal`          | INTERNAL (Internal, Unknown, anything else)                 | yes, with backoff     |
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
  /** The bridge's reason, when it said one (UNSPECIFIED otherwise). */
  readonly reason: BridgeErrorReason;

  constructor(
    kind: BridgeErrorKind,
    message: string,
    options?: { code?: Code | undefined; cause?: unknown; reason?: BridgeErrorReason },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.code = options?.code;
    this.reason = options?.reason ?? BridgeErrorReason.UNSPECIFIED;
  }

  /** Whether the client's reconnect loop retries after this error. */
  get retryable(): boolean {
    return this.kind === "unavailable" || this.kind === "internal" || this.kind === "no-session";
  }
}

/** The client error kind of each reason the bridge gives. */
const KIND_OF_REASON: Readonly<Record<BridgeErrorReason, BridgeErrorKind | undefined>> = {
  [BridgeErrorReason.UNSPECIFIED]: undefined,
  [BridgeErrorReason.INVALID_ARGUMENT]: "invalid-argument",
  [BridgeErrorReason.NO_SESSION]: "no-session",
  [BridgeErrorReason.SESSION_CLOSING]: "no-session",
  [BridgeErrorReason.DUPLICATE_IDENTITY]: "identity-taken",
  [BridgeErrorReason.REPLACED]: "replaced",
  [BridgeErrorReason.DRAINING]: "unavailable",
  [BridgeErrorReason.TOKEN_EXPIRED]: "unavailable",
  [BridgeErrorReason.ROOM_LOST]: "unavailable",
  [BridgeErrorReason.LIMIT_REACHED]: "unavailable",
  [BridgeErrorReason.TIMEOUT]: "unavailable",
  [BridgeErrorReason.UNAUTHENTICATED]: "unauthenticated",
  [BridgeErrorReason.PERMISSION_DENIED]: "unauthenticated",
  [BridgeErrorReason.SESSION_ENDED]: "cancelled",
  [BridgeErrorReason.CANCELLED]: "cancelled",
  [BridgeErrorReason.INTERNAL]: "internal",
};

/** The kind an error of `code` is when the bridge said no reason. */
function kindOfCode(code: Code): BridgeErrorKind {
  switch (code) {
    case Code.InvalidArgument:
    case Code.OutOfRange:
      return "invalid-argument";
    case Code.FailedPrecondition:
      return "no-session";
    // Aborted without a reason is no bridge's: Node reports a connection reset so.
    case Code.Aborted:
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.ResourceExhausted:
      return "unavailable";
    case Code.Unauthenticated:
    case Code.PermissionDenied:
      return "unauthenticated";
    case Code.Canceled:
      return "cancelled";
    default:
      return "internal";
  }
}

/** Maps anything thrown by a Connect call (or an abort) to a {@link BridgeError}. */
export function toBridgeError(error: unknown): BridgeError {
  if (error instanceof BridgeError) return error;
  const connect = ConnectError.from(error);
  const reason =
    connect.findDetails(BridgeErrorDetailSchema)[0]?.reason ?? BridgeErrorReason.UNSPECIFIED;
  const kind = KIND_OF_REASON[reason] ?? kindOfCode(connect.code);
  return new BridgeError(kind, connect.rawMessage, { code: connect.code, cause: error, reason });
}
