import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { BridgeErrorDetailSchema, BridgeErrorReason } from "@mentra/bridge-proto";

/**
 * The reason an error of each code stands for when nothing more precise was said: codes
 * the bridge uses for one reason only map to it; Aborted, which means several, needs its
 * reason from where the error was made.
 */
const CODES_OF_REASON: readonly (readonly [BridgeErrorReason, readonly Code[]])[] = [
  [BridgeErrorReason.INVALID_ARGUMENT, [Code.InvalidArgument, Code.OutOfRange]],
  [BridgeErrorReason.NO_SESSION, [Code.FailedPrecondition]],
  [BridgeErrorReason.ROOM_LOST, [Code.Unavailable]],
  [BridgeErrorReason.UNAUTHENTICATED, [Code.Unauthenticated]],
  [BridgeErrorReason.PERMISSION_DENIED, [Code.PermissionDenied]],
  [BridgeErrorReason.LIMIT_REACHED, [Code.ResourceExhausted]],
  [BridgeErrorReason.TIMEOUT, [Code.DeadlineExceeded]],
  [BridgeErrorReason.CANCELLED, [Code.Canceled]],
  [BridgeErrorReason.INTERNAL, [Code.Internal, Code.Unknown, Code.Unimplemented, Code.NotFound]],
];

/** {@link CODES_OF_REASON} by code. */
const REASON_OF_CODE: ReadonlyMap<Code, BridgeErrorReason> = new Map(
  CODES_OF_REASON.flatMap(([reason, codes]) => codes.map((code) => [code, reason] as const)),
);

/** Whether `error` already says its reason. */
function hasDetail(error: ConnectError): boolean {
  return error.findDetails(BridgeErrorDetailSchema).length > 0;
}

/**
 * `error` with a BridgeErrorDetail of `reason` (and `userId`) among its details; an error
 * that already carries one is returned as it is.
 */
export function withReason(
  error: ConnectError,
  reason: BridgeErrorReason,
  userId = "",
): ConnectError {
  if (hasDetail(error)) return error;
  error.details.push({ desc: BridgeErrorDetailSchema, value: { reason, userId } });
  return error;
}

/** Gives an error without a reason the one its code stands for (see {@link REASON_OF_CODE}). */
function explained(thrown: unknown): ConnectError {
  const error = ConnectError.from(thrown);
  if (hasDetail(error)) return error;
  return withReason(error, REASON_OF_CODE.get(error.code) ?? BridgeErrorReason.UNSPECIFIED);
}

async function* explainedStream<T>(messages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* messages;
  } catch (error) {
    throw explained(error);
  }
}

/**
 * Sends a BridgeErrorDetail with every error a call returns, the outermost interceptor:
 * what the handlers and the other interceptors said, or else the reason of the code.
 */
export const errorDetailInterceptor: Interceptor = (next) => async (request) => {
  try {
    const response = await next(request);
    if (!response.stream) return response;
    return { ...response, message: explainedStream(response.message) };
  } catch (error) {
    throw explained(error);
  }
};
