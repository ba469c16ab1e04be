import type * as http2 from "node:http2";
import type * as net from "node:net";
import { type ConnectionCloseReason, createConnectionGuard } from "../connection-guard.js";
import type { Logger } from "../logger.js";
import { sniffProtocol } from "../sniff-protocol.js";
import { createH2cSessions } from "./h2c-sessions.js";
import { createHttp1Connections } from "./http1-connections.js";
import type { RequestHandler } from "./options.js";
import type { StreamThrottle } from "./stream-throttle.js";

/**
 * Every connection of the server, whichever listener accepted it: admitted by the
 * connection guard (limit, first-request and idle timeouts), sniffed, and handed to the
 * HTTP/2 (h2c) or the HTTP/1.1 server.
 */
export interface Connections {
  /** Takes a socket a listener accepted (cleartext, decrypted TLS, or Unix). */
  accept(socket: net.Socket): void;
  /** A TLS socket still in its handshake: not admitted yet, but cut by `destroyAll()`. */
  trackHandshake(socket: net.Socket): void;
  /**
   * Shutdown, graceful part: unsniffed sockets are cut, HTTP/2 sessions get GOAWAY,
   * idle HTTP/1.1 connections end and busy ones end after their last response.
   */
  drain(): void;
  /** Shutdown, at its deadline: cuts every socket still open. */
  destroyAll(): void;
  /** Stops the guard's timers (once the listeners are closed). */
  stop(): void;
  /** Connections admitted and open now. */
  readonly admitted: number;
  /** Sockets open now, handshaking TLS ones included. */
  readonly open: number;
}

/** Options of {@link createConnections}. */
export interface ConnectionsOptions {
  readonly handler: RequestHandler;
  readonly maxConnections: number;
  readonly firstRequestTimeoutMs: number;
  readonly idleTimeoutMs: number;
  /** How long a new connection may stay silent before it is dropped. */
  readonly firstBytesTimeoutMs: number;
  readonly maxConcurrentStreams: number;
  /** Where the open HTTP/2 sessions are kept (the throttle reads it too). */
  readonly sessions: Set<http2.ServerHttp2Session>;
  readonly throttle: StreamThrottle;
  /** Aborted once the server closes: a socket accepted later is cut. */
  readonly shutdownSignal: AbortSignal;
  readonly logger: Logger;
  /** A connection the guard closed or refused. */
  readonly onClosed: (reason: ConnectionCloseReason) => void;
}

/** Creates the {@link Connections} of one server. */
export function createConnections(options: ConnectionsOptions): Connections {
  const { shutdownSignal, logger } = options;
  const sockets = new Set<net.Socket>();
  const unsniffed = new Set<net.Socket>();
  const guard = createConnectionGuard({
    maxConnections: options.maxConnections,
    firstRequestTimeoutMs: options.firstRequestTimeoutMs,
    idleTimeoutMs: options.idleTimeoutMs,
    onClosed: options.onClosed,
    close(socket, graceful) {
      const session = h2c.sessionOf(socket);
      // A socket given to an HTTP/2 session is closed through the session: destroying
      // the socket alone can leave the peer's end open.
      const cut = () => {
        if (session !== undefined && !session.destroyed) session.destroy();
        socket.destroy();
      };
      if (graceful && session !== undefined && !session.destroyed) {
        // GOAWAY; a client that does not close its end is cut a little later.
        session.close();
        setTimeout(cut, 1000).unref();
      } else {
        cut();
      }
    },
  });
  const http1 = createHttp1Connections({ handler: options.handler, guard, shutdownSignal, logger });
  // Declared after the guard, whose close() (called only once connections exist) reads it.
  const h2c = createH2cSessions({
    handler: options.handler,
    maxConcurrentStreams: options.maxConcurrentStreams,
    sessions: options.sessions,
    throttle: options.throttle,
    guard,
    shutdownSignal,
    logger,
  });

  function track(socket: net.Socket): void {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  }

  function accept(socket: net.Socket): void {
    // Without a listener, one client's reset connection would crash the process.
    socket.on("error", (error: NodeJS.ErrnoException) => {
      logger.debug("connection error", { error: error.code ?? error.message });
    });
    if (!guard.admit(socket)) return;
    track(socket);
    socket.once("close", () => unsniffed.delete(socket));
    if (shutdownSignal.aborted) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    unsniffed.add(socket);
    sniffProtocol(socket, {
      firstBytesTimeoutMs: options.firstBytesTimeoutMs,
      onProtocol(protocol) {
        unsniffed.delete(socket);
        if (protocol === "h2c") h2c.accept(socket);
        else http1.accept(socket);
      },
    });
  }

  return {
    accept,
    trackHandshake: track,
    drain() {
      for (const socket of unsniffed) socket.destroy();
      h2c.drain();
      http1.drain();
    },
    destroyAll() {
      for (const socket of sockets) socket.destroy();
    },
    stop: () => guard.stop(),
    get admitted() {
      return guard.size;
    },
    get open() {
      return sockets.size;
    },
  };
}
