import * as http from "node:http";
import * as http2 from "node:http2";

/** What a raw gRPC call got back. */
export interface RawGrpcAnswer {
  readonly status: number;
  readonly trailers: http2.IncomingHttpHeaders;
  /** The test reset the stream itself (RST_STREAM CANCEL). */
  readonly reset: boolean;
}

/**
 * POSTs `body` as one gRPC request over HTTP/2 with prior knowledge, bypassing every
 * client library so that malformed frames reach the server as they are. With
 * `resetAfterMs` the request is never finished: the stream is reset after that long.
 */
export function rawGrpc(
  url: string,
  path: string,
  headers: Record<string, string>,
  body: Buffer,
  options: { resetAfterMs?: number } = {},
): Promise<RawGrpcAnswer> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const request = session.request({ ":method": "POST", ":path": path, ...headers });
    let status = 0;
    let trailers: http2.IncomingHttpHeaders = {};
    let reset = false;
    request.on("response", (h) => {
      status = Number(h[":status"]);
      // A trailers-only answer carries grpc-status in the headers.
      if (h["grpc-status"] !== undefined) trailers = h;
    });
    request.on("trailers", (t) => {
      trailers = t;
    });
    request.on("data", () => {});
    request.on("error", () => {});
    request.on("close", () => {
      session.close();
      resolve({ status, trailers, reset });
    });
    if (options.resetAfterMs === undefined) {
      request.end(body);
    } else {
      request.write(body);
      setTimeout(() => {
        reset = true;
        request.close(http2.constants.NGHTTP2_CANCEL);
      }, options.resetAfterMs);
    }
  });
}

/** POSTs `body` over HTTP/1.1 or HTTP/2 (prior knowledge) and returns status and body text. */
export function rawHttp(
  url: string,
  path: string,
  version: "1.1" | "2",
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; body: string }> {
  if (version === "1.1") {
    return new Promise((resolve, reject) => {
      const request = http.request(`${url}${path}`, { method: "POST", headers }, (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text }));
      });
      request.on("error", reject);
      request.end(body);
    });
  }
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const request = session.request({ ":method": "POST", ":path": path, ...headers });
    let status = 0;
    let text = "";
    request.on("response", (h) => {
      status = Number(h[":status"]);
    });
    request.setEncoding("utf8");
    request.on("data", (chunk: string) => {
      text += chunk;
    });
    request.on("error", () => {});
    request.on("close", () => {
      session.close();
      resolve({ status, body: text });
    });
    request.end(body);
  });
}
