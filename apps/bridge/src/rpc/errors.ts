import { Code, ConnectError } from "@connectrpc/connect";
import { BridgeErrorReason } from "@mentra/bridge-proto";
import { PcmFormatError } from "../audio/pcm.js";
import { AudioUrlError } from "../playback/url-policy.js";
import { SessionError, type SessionErrorKind } from "../session/session-errors.js";
import { withReason } from "./error-detail.js";

/**
 * The Connect code of each session error kind, the one place they are chosen. The
 * deployed client switches on some (Aborted: another owner; Unavailable: try again or
 * elsewhere), so they stay as deployed.
 */
const CODES: Readonly<Record<SessionErrorKind, Code>> = {
  duplicate_identity: Code.Aborted,
  replaced: Code.Aborted,
  ended: Code.Canceled,
  room_lost: Code.Unavailable,
  token_expired: Code.Unavailable,
  closing: Code.FailedPrecondition,
  no_session: Code.FailedPrecondition,
  draining: Code.Unavailable,
};

/** The reason each session error kind is sent with (BridgeErrorDetail). */
const REASONS: Readonly<Record<SessionErrorKind, BridgeErrorReason>> = {
  duplicate_identity: BridgeErrorReason.DUPLICATE_IDENTITY,
  replaced: BridgeErrorReason.REPLACED,
  ended: BridgeErrorReason.SESSION_ENDED,
  room_lost: BridgeErrorReason.ROOM_LOST,
  token_expired: BridgeErrorReason.TOKEN_EXPIRED,
  closing: BridgeErrorReason.SESSION_CLOSING,
  no_session: BridgeErrorReason.NO_SESSION,
  draining: BridgeErrorReason.DRAINING,
};

/** A malformed request: InvalidArgument with `message` (which names the field). */
export function invalid(message: string): ConnectError {
  return withReason(
    new ConnectError(message, Code.InvalidArgument),
    BridgeErrorReason.INVALID_ARGUMENT,
  );
}

/**
 * The error as it goes on the wire: a session error with its kind's code, malformed audio
 * or URLs as InvalidArgument, a ConnectError as it is, anything else as Connect would.
 */
export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof SessionError) {
    const wire = new ConnectError(error.message, CODES[error.kind], undefined, undefined, error);
    return withReason(wire, REASONS[error.kind]);
  }
  if (error instanceof PcmFormatError || error instanceof AudioUrlError) {
    return invalid(error.message);
  }
  return ConnectError.from(error);
}

/** Runs a unary handler with its errors mapped by {@link toConnectError}. */
export function mapUnaryErrors<I, C, O>(
  handler: (input: I, context: C) => O | Promise<O>,
): (input: I, context: C) => Promise<O> {
  return async (input, context) => {
    try {
      return await handler(input, context);
    } catch (error) {
      throw toConnectError(error);
    }
  };
}

/** Runs a streaming handler with its errors mapped by {@link toConnectError}. */
export function mapStreamErrors<I, C, O>(
  handler: (input: I, context: C) => AsyncIterable<O>,
): (input: I, context: C) => AsyncGenerator<O> {
  return async function* (input, context) {
    try {
      yield* handler(input, context);
    } catch (error) {
      throw toConnectError(error);
    }
  };
}
