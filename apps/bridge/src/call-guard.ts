import type * as http from "node:http";
import * as http2 from "node:http2";
import { Code } from "@connectrpc/connect";
import { codeToHttpStatus, codeToString } from "@connectrpc/connect/protocol-connect";
import { encodeGrpcMessage } from "./grpc-message.js";

/** Why the bridge answered a call itself instead of serving it. */
export type CallRefusal =
  /** MAX_CALLS were open (less the health reserve for other calls): ResourceExhausted. */
  | "max_calls"
  /** The request message did not start within the first-message timeout: DeadlineExceeded. */
  | "first_message_timeout";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/** Options of {@link createCallGuard}. */
export interface CallGuardOptions {
  /** Calls open at once, the health reserve included. */
  readonly maxCalls: number;
  /** How long a call may wait for the first bytes of its request body. */
  readonly firstMessageTimeoutMs: number;
  /** Told of every call answered with an error instead of being served. */
  readonly onRefused?: (reason: CallRefusal) => void;
  /**
   * Told when the calls reach the limit for ordinary calls (true) and when they are back
   * under four fifths of it (false), so the server can stop new streams more cheaply.
   */
  readonly onSaturated?: (saturated: boolean) => void;
}

/** Counts and bounds the calls of a server; see {@link createCallGuard}. */
export interface CallGuard {
  /** Wraps the server's handler. */
  wrap<Req extends Request, Res extends Response>(
    handler: (req: Req, res: Res) => void,
  ): (req: Req, res: Res) => void;
  /** Calls open now. */
  readonly calls: number;
}

// Paths a load balancer or an operator probes; they may use the reserve. Watch streams
// are long-lived, so they count as ordinary calls.
const HEALTH_PATHS = new Set([
  "/mentra.livekit.bridge.LiveKitBridge/HealthCheck",
  "/grpc.health.v1.Health/Check",
  "/healthz",
  "/readyz",
  "/metrics",
]);

/** Calls kept for health checks out of `maxCalls`. */
export function healthReserve(maxCalls: number): number {
  return Math.min(100, Math.floor(maxCalls / 10));
}

/**
 * Answers a call with an error in the protocol it speaks, without Connect: gRPC and
 * gRPC-Web as a trailers-only response, Connect streaming as an end-stream message,
 * Connect unary (and anything else) as the JSON error with its HTTP status.
 */
export function writeProtocolError(req: Request, res: Response, code: Code, message: string) {
  if (res.headersSent || res.writableEnded) return;
  const contentType = String(req.headers["content-type"] ?? "");
  const h1 = !("stream" in req);
  const extra: Record<string, string> = h1 ? { connection: "close" } : {};
  if (contentType.startsWith("application/grpc")) {
    res.writeHead(200, {
      ...extra,
      "content-type": contentType.startsWith("application/grpc-web")
        ? "application/grpc-web+proto"
        : "application/grpc",
      "grpc-status": String(code),
      "grpc-message": encodeGrpcMessage(message),
    });
    res.end();
    return;
  }
  const error = JSON.stringify({ code: codeToString(code), message });
  if (contentType.startsWith("application/connect+")) {
    const body = Buffer.from(`{"error":${error}}`);
    const envelope = Buffer.alloc(5 + body.length);
    envelope[0] = 0b10; // end-stream flag
    envelope.writeUInt32BE(body.length, 1);
    body.copy(envelope, 5);
    res.writeHead(200, { ...extra, "content-type": contentType });
    res.end(envelope);
    return;
  }
  res.writeHead(codeToHttpStatus(code), {
    ...extra,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(error),
  });
  res.end(error);
}

/** True when the request cannot carry (more) body: HTTP/2 END_STREAM on its headers, a GET. */
function bodyComplete(req: Request): boolean {
  if ("stream" in req) return req.stream.endAfterHeaders || req.readableEnded;
  return req.method === "GET" || req.method === "HEAD" || req.readableEnded;
}

/** After an early answer, stops reading a request the client may still be sending. */
function stopReading(req: Request, res: Response): void {
  if ("stream" in req) {
    const stream = req.stream;
    res.once("finish", () => {
      if (!stream.destroyed) stream.close(http2.constants.NGHTTP2_NO_ERROR);
    });
  } else {
    res.once("finish", () => req.socket.destroySoon());
  }
}

// Calls opened together time out together: thousands of silent streams from one attack
// would otherwise be answered in one turn of the event loop, holding every session's audio
// for a second. A few hundred per turn, with I/O in between.
const EXPIRIES_PER_TURN = 200;

/** Runs pushed tasks `perTurn` at a time, one batch per turn of the event loop. */
function createBatchRunner(perTurn: number): { push(task: () => void): void } {
  const queue: (() => void)[] = [];
  let scheduled = false;
  const run = () => {
    scheduled = false;
    for (const task of queue.splice(0, perTurn)) task();
    if (queue.length > 0) {
      scheduled = true;
      setImmediate(run);
    }
  };
  return {
    push(task) {
      queue.push(task);
      if (!scheduled) {
        scheduled = true;
        setImmediate(run);
      }
    },
  };
}

/**
 * Bounds the calls of a server in number and makes each one start within a deadline: a
 * call past `maxCalls` (past `maxCalls` less {@link healthReserve} unless it is a health
 * check) is answered ResourceExhausted, and one whose request body does not start within
 * `firstMessageTimeoutMs` DeadlineExceeded; Connect never sees either. What a call does
 * after its first bytes (a StreamAudio quiet for minutes) is not timed.
 */
export function createCallGuard(options: CallGuardOptions): CallGuard {
  const reserve = healthReserve(options.maxCalls);
  const ordinaryLimit = options.maxCalls - reserve;
  let calls = 0;
  let saturated = false;
  const expiries = createBatchRunner(EXPIRIES_PER_TURN);
  const track = (delta: number) => {
    calls += delta;
    if (!saturated && calls >= ordinaryLimit) {
      saturated = true;
      options.onSaturated?.(true);
    } else if (saturated && calls <= Math.floor(ordinaryLimit * 0.8)) {
      saturated = false;
      options.onSaturated?.(false);
    }
  };
  return {
    get calls() {
      return calls;
    },
    wrap(handler) {
      return (req, res) => {
        const path = (req.url ?? "").split("?")[0] ?? "";
        const limit = HEALTH_PATHS.has(path) ? options.maxCalls : options.maxCalls - reserve;
        if (calls >= limit) {
          options.onRefused?.("max_calls");
          writeProtocolError(
            req,
            res,
            Code.ResourceExhausted,
            "the bridge has too many calls open (MAX_CALLS); retry later or on another bridge",
          );
          stopReading(req, res);
          return;
        }
        track(1);
        res.once("close", () => track(-1));
        if (bodyComplete(req)) {
          handler(req, res);
          return;
        }
        let settled = false;
        const settle = () => {
          settled = true;
          clearTimeout(timer);
          req.off("readable", start);
          req.off("end", start);
          res.off("close", settle);
        };
        const start = () => {
          if (settled) return;
          settle();
          handler(req, res);
        };
        const expire = () => {
          if (settled) return;
          settle();
          options.onRefused?.("first_message_timeout");
          writeProtocolError(
            req,
            res,
            Code.DeadlineExceeded,
            `no request message within ${options.firstMessageTimeoutMs} ms (FIRST_MESSAGE_TIMEOUT_MS)`,
          );
          stopReading(req, res);
        };
        const timer = setTimeout(() => expiries.push(expire), options.firstMessageTimeoutMs);
        // A "readable" listener buffers what arrives without consuming it; Connect reads
        // it from the start once it has the request.
        req.once("readable", start);
        req.once("end", start);
        res.once("close", settle);
      };
    },
  };
}
