import * as http from "node:http";
import type * as net from "node:net";
import type { ConnectionGuard } from "../connection-guard.js";
import type { Logger } from "../logger.js";
import type { RequestHandler } from "./options.js";

/** The HTTP/1.1 side of the port: sockets sniffed as HTTP/1.1 are served here. */
export interface Http1Connections {
  /** Serves a socket whose first bytes were HTTP/1.1 (they are back in the socket). */
  accept(socket: net.Socket): void;
  /**
   * Shutdown: a connection with no open response ends now, one with responses after its
   * last one ("connection: close" on those not yet started).
   */
  drain(): void;
}

/** Options of {@link createHttp1Connections}. */
export interface Http1ConnectionsOptions {
  readonly handler: RequestHandler;
  /** Told of each request as a call, for the idle timeout. */
  readonly guard: Pick<ConnectionGuard, "callStarted" | "callEnded">;
  /** Aborted once the server closes: new responses carry "connection: close". */
  readonly shutdownSignal: AbortSignal;
  readonly logger: Logger;
}

/** Creates the HTTP/1.1 server the sniffed sockets are handed to. */
export function createHttp1Connections(options: Http1ConnectionsOptions): Http1Connections {
  const { guard, shutdownSignal, logger } = options;
  // Open responses per HTTP/1.1 connection. Node tracks idle connections only for
  // servers that listen themselves, so closeIdleConnections() would be a no-op here.
  const connections = new Map<net.Socket, Set<http.ServerResponse>>();
  const server = http.createServer((req, res) => {
    const open = connections.get(req.socket);
    open?.add(res);
    guard.callStarted(req.socket);
    res.once("close", () => guard.callEnded(req.socket));
    if (shutdownSignal.aborted) res.setHeader("connection", "close");
    res.once("close", () => {
      open?.delete(res);
      // A response that started before close() had no "connection: close"; end the
      // connection once its last response is out.
      if (shutdownSignal.aborted && open?.size === 0) req.socket.end();
    });
    options.handler(req, res);
  });
  server.on("clientError", (error: NodeJS.ErrnoException, socket: net.Socket) => {
    logger.debug("bad HTTP/1.1 request", { error: error.code ?? error.message });
    if (socket.writable && error.code !== "ECONNRESET") {
      socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    } else {
      socket.destroy();
    }
  });
  return {
    accept(socket) {
      connections.set(socket, new Set());
      socket.once("close", () => connections.delete(socket));
      server.emit("connection", socket);
      socket.resume();
    },
    drain() {
      for (const [socket, open] of connections) {
        if (open.size === 0) socket.destroy();
        for (const res of open) if (!res.headersSent) res.setHeader("connection", "close");
      }
    },
  };
}
