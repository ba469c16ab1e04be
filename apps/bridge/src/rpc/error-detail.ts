import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { BridgeErrorDetailSchema, BridgeErrorReason } from "@mentra/bridge-proto";

/**
 * The reason an error of `code` stands for when nothing more precise was said: codes the
 * bridge uses for one reason only map to it; Aborted, which means several, needs its
 * reason from where the error was made.
 */
const REASON_OF_CODE: Partial<Record<Code, BridgeErrorReason>> = {
  [Code.InvalidArgument]: BridgeErrorReason.INVALID_ARGUMENT,
  [Code.OutOfRange]: BridgeErrorReason.INVALID_ARGUMENT,
  [Code.FailedPrecondition]: BridgeErrorReason.NO_SESSION,
  [Code.Unavailable]: BridgeErrorReason.ROOM_LOST,
  [Code.Unauthenticated]: BridgeErrorReason.UNAUTHENTICATED,
  [Code.PermissionDenied]: BridgeErrorReason.PERMISSION_DENIED,
  [Code.ResourceExhausted]: BridgeErrorReason.LIMIT_REACHED,
  [Code.DeadlineExceeded]: BridgeErrorReason.TIMEOUT,
  [Code.Canceled]: BridgeErrorReason.CANCELLED,
  [Code.Internal]: BridgeErrorReason.INTERNAL,
  [Code.Unknown]: BridgeErrorReason.INTERNAL,
  [Code.Unimplemented]: BridgeErrorReason.INTERNAL,
  [Code.NotFound]: BridgeErrorReason.INTERNAL,
};

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
  return withReason(error, REASON_OF_CODE[error.code] ?? BridgeErrorReason.UNSPECIFIED);
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
