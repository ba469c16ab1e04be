import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type Logger, silentLogger } from "./logger.js";
import { sniffProtocol } from "./sniff-protocol.js";

/** Options of {@link createBridgeServer}. */
export interface BridgeServerOptions {
  /** Address to listen on, e.g. "0.0.0.0" or "127.0.0.1". */
  readonly host: string;
  /** TCP port; 0 picks a free one (see the address `listen()` resolves with). */
  readonly port: number;
  /**
   * Registers the RPCs. Receives the server's shutdown signal, aborted when `close()`
   * starts, so handlers can report draining and wind long streams down.
   */
  readonly routes: (shutdownSignal: AbortSignal) => (router: ConnectRouter) => void;
  /** Largest message the server reads; larger ones fail with ResourceExhausted. */
  readonly readMaxBytes?: number;
  /** How long `close()` lets open calls finish before it cuts them; default 10000. */
  readonly shutdownTimeoutMs?: number;
  /** How long a new connection may stay silent before it is dropped; default 10000. */
  readonly firstBytesTimeoutMs?: number;
  /** Where connection problems are logged; default silent. */
  readonly logger?: Logger;
}

/** Where a listening {@link BridgeServer} can be reached. */
export interface BridgeServerAddress {
  /** The address bound, as given in the options. */
  readonly host: string;
  /** The port bound; the real one when the options asked for 0. */
  readonly port: number;
  /** A base URL clients on this machine can use, e.g. "http://127.0.0.1:9090". */
  readonly url: string;
}

/**
 * One TCP port serving gRPC, Connect and gRPC-Web over HTTP/2 cleartext (prior knowledge)
 * and over HTTP/1.1, including plain JSON POSTs from curl.
 */
export interface BridgeServer {
  /** Binds the port. Calling it again returns the same promise. */
  listen(): Promise<BridgeServerAddress>;
  /**
   * Drains gracefully: reports NOT_SERVING, stops accepting, lets open calls finish for
   * up to `shutdownTimeoutMs`, then cuts what is left. Idempotent; resolves when every
   * connection is gone and the port is free.
   */
  close(): Promise<void>;
  /** The bound address; undefined before `listen()` resolves and after `close()`. */
  readonly address: BridgeServerAddress | undefined;
  /** Aborted, with an Unavailable ConnectError, once `close()` starts. */
  readonly shutdownSignal: AbortSignal;
}

function clientUrl(host: string, port: number): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  return `http://${net.isIPv6(reachable) ? `[${reachable}]` : reachable}:${port}`;
}

/** Creates a {@link BridgeServer}; nothing is bound until `listen()`. */
export function createBridgeServer(options: BridgeServerOptions): BridgeServer {
  const logger = options.logger ?? silentLogger;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  const firstBytesTimeoutMs = options.firstBytesTimeoutMs ?? 10_000;
  const shutdown = new AbortController();
  const handler = connectNodeAdapter({
    routes: options.routes(shutdown.signal),
    shutdownSignal: shutdown.signal,
    ...(options.readMaxBytes === undefined ? {} : { readMaxBytes: options.readMaxBytes }),
    connect: true,
    grpc: true,
    grpcWeb: true,
  });

  const sockets = new Set<net.Socket>();
  const unsniffed = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  // Open responses per HTTP/1.1 connection. Node tracks idle connections only for
  // servers that listen themselves, so closeIdleConnections() would be a no-op here.
  const http1Connections = new Map<net.Socket, Set<http.ServerResponse>>();

  const http1Server = http.createServer((req, res) => {
    const open = http1Connections.get(req.socket);
    open?.add(res);
    if (shutdown.signal.aborted) res.setHeader("connection", "close");
    res.once("close", () => {
      open?.delete(res);
      // A response that started before close() had no "connection: close"; end the
      // connection once its last response is out.
      if (shutdown.signal.aborted && open?.size === 0) req.socket.end();
    });
    handler(req, res);
  });
  http1Server.on("clientError", (error: NodeJS.ErrnoException, socket: net.Socket) => {
    logger.debug("bad HTTP/1.1 request", { error: error.code ?? error.message });
    if (socket.writable && error.code !== "ECONNRESET") {
      socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    } else {
      socket.destroy();
    }
  });

  const http2Server = http2.createServer({}, handler);
  http2Server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    if (shutdown.signal.aborted) session.close();
  });
  http2Server.on("sessionError", (error: Error) => {
    logger.debug("HTTP/2 session error", { error: error.message });
  });

  const netServer = net.createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      unsniffed.delete(socket);
      http1Connections.delete(socket);
    });
    // Without a listener, one client's reset connection would crash the process.
    socket.on("error", (error: NodeJS.ErrnoException) => {
      logger.debug("connection error", { error: error.code ?? error.message });
    });
    if (shutdown.signal.aborted) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    unsniffed.add(socket);
    sniffProtocol(socket, {
      firstBytesTimeoutMs,
      onProtocol(protocol) {
        unsniffed.delete(socket);
        if (protocol === "h2c") {
          http2Server.emit("connection", socket);
        } else {
          http1Connections.set(socket, new Set());
          http1Server.emit("connection", socket);
          socket.resume();
        }
      },
    });
  });
  // Errors while binding reach the caller of listen(); later ones are only logged.
  netServer.on("error", (error) => {
    if (netServer.listening) logger.error("listener error", { error: error.message });
  });

  let listening: Promise<BridgeServerAddress> | undefined;
  let closing: Promise<void> | undefined;

  function currentAddress(): BridgeServerAddress | undefined {
    const bound = netServer.address();
    if (bound === null || typeof bound === "string") return undefined;
    return { host: options.host, port: bound.port, url: clientUrl(options.host, bound.port) };
  }

  function listen(): Promise<BridgeServerAddress> {
    listening ??= new Promise((resolve, reject) => {
      if (closing !== undefined) {
        reject(new Error("the bridge server is closed and cannot listen again"));
        return;
      }
      const onError = (error: Error) => reject(error);
      netServer.once("error", onError);
      netServer.listen({ host: options.host, port: options.port }, () => {
        netServer.off("error", onError);
        const address = currentAddress();
        if (address === undefined) reject(new Error("the listener has no TCP address"));
        else resolve(address);
      });
    });
    return listening;
  }

  async function drain(): Promise<void> {
    shutdown.abort(new ConnectError("the bridge is shutting down", Code.Unavailable));
    const closed = new Promise<void>((resolve) => netServer.close(() => resolve()));
    for (const socket of unsniffed) socket.destroy();
    // GOAWAY: open HTTP/2 streams finish, new ones go elsewhere.
    for (const session of sessions) session.close();
    for (const [socket, open] of http1Connections) {
      if (open.size === 0) socket.destroy();
      for (const res of open) if (!res.headersSent) res.setHeader("connection", "close");
    }
    const deadline = setTimeout(() => {
      if (sockets.size > 0) {
        logger.warn("shutdown timeout reached, cutting open connections", {
          connections: sockets.size,
          shutdownTimeoutMs,
        });
      }
      for (const socket of sockets) socket.destroy();
    }, shutdownTimeoutMs);
    try {
      await closed;
    } finally {
      clearTimeout(deadline);
    }
  }

  return {
    listen,
    close() {
      closing ??= drain();
      return closing;
    },
    get address() {
      return currentAddress();
    },
    shutdownSignal: shutdown.signal,
  };
}
