import { AsyncLocalStorage } from "node:async_hooks";
import { randomUUID } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";

/** The RPC a piece of work belongs to, for log lines. */
export interface RequestContext {
  /** The caller's `x-request-id`, or a fresh UUID; echoed in the response headers. */
  readonly requestId: string;
  /** The RPC's method name, e.g. "JoinRoom". */
  readonly method: string;
}

const store = new AsyncLocalStorage<RequestContext>();

/** The RPC the current code runs for, if any (log lines read it). */
export function currentRequest(): RequestContext | undefined {
  return store.getStore();
}

/** Header carrying the request id both ways. */
export const REQUEST_ID_HEADER = "x-request-id";

// A caller's id is echoed back, so keep it short and printable.
const VALID_ID = /^[\w.:-]{1,128}$/;

/**
 * Gives every RPC a request id (the caller's `x-request-id` when valid, else a UUID), runs
 * the handler in its context, including each step of a streamed response, and returns
 * the id in the `x-request-id` response header.
 */
export const requestContextInterceptor: Interceptor = (next) => async (request) => {
  const given = request.header.get(REQUEST_ID_HEADER) ?? "";
  const context: RequestContext = {
    requestId: VALID_ID.test(given) ? given : randomUUID(),
    method: request.method.name,
  };
  const response = await store.run(context, () => next(request));
  response.header.set(REQUEST_ID_HEADER, context.requestId);
  if (!response.stream) return response;
  const inner = response.message[Symbol.asyncIterator]();
  async function* inContext() {
    try {
      for (;;) {
        const step = await store.run(context, () => inner.next());
        if (step.done === true) return;
        yield step.value;
      }
    } finally {
      await inner.return?.();
    }
  }
  return { ...response, message: inContext() };
};
