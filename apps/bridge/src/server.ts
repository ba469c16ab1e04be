import * as fs from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { dirname } from "node:path";
import * as tls from "node:tls";
import { Code, ConnectError, type ConnectRouter, type Interceptor } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type CallRefusal, createCallGuard } from "./call-guard.js";
import {
  type ConnectionCloseReason,
  createConnectionGuard,
  defaultMaxConnections,
} from "./connection-guard.js";
import { withSpecGrpcMessage } from "./grpc-message.js";
import { type Logger, silentLogger } from "./logger.js";
import { registerGrpcHealth } from "./rpc/grpc-health.js";
import { registerReflection } from "./rpc/reflection.js";
import { callerContextValues, markUnixSocket } from "./security/caller.js";
import { sniffProtocol } from "./sniff-protocol.js";

/** A plain HTTP handler, as connect-node hands non-RPC requests to it (either HTTP version). */
export type HttpHandler = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;

/** Certificate and key (PEM contents) for TLS; clients choose h2 or http/1.1 by ALPN. */
export interface BridgeTlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

/** Options of {@link createBridgeServer}. */
export interface BridgeServerOptions {
  /** Address to listen on, e.g. "0.0.0.0" or "127.0.0.1". */
  readonly host: string;
  /**
   * TCP port; 0 picks a free one (see the address `listen()` resolves with). Undefined:
   * no TCP listener, only `unixSocket` (which must then be set).
   */
  readonly port: number | undefined;
  /**
   * Registers the RPCs. Receives the server's drain signal, aborted when `drain()` or
   * `close()` starts, so handlers can report draining and wind long streams down.
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
  /** Run around every RPC, first to last (auth, limits, metrics). */
  readonly interceptors?: readonly Interceptor[];
  /** Serves requests that are not RPCs (/healthz, /metrics…); default answers 404. */
  readonly http?: HttpHandler;
  /**
   * Also listen on this Unix socket (same protocols; never TLS): its folder is created, a
   * stale socket file replaced, the socket made connectable by every user (0666, as the
   * deployed bridge does), and removed on close.
   */
  readonly unixSocket?: string;
  /** Serve TLS on the TCP port instead of cleartext. */
  readonly tls?: BridgeTlsOptions;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection; default 1000. */
  readonly maxConcurrentStreams?: number;
  /** Connections open at once; default {@link defaultMaxConnections}. */
  readonly maxConnections?: number;
  /** How long a new connection may take to complete its first request; default 10000. */
  readonly firstRequestTimeoutMs?: number;
  /** How long a connection with no open call is kept; default 300000. */
  readonly idleConnectionTimeoutMs?: number;
  /** Calls open at once, a reserve for health checks included; default 4000. */
  readonly maxCalls?: number;
  /** How long a call may wait for the first bytes of its request; default 10000. */
  readonly firstMessageTimeoutMs?: number;
  /** Told of what the server refuses or closes on its own, for the metrics. */
  readonly observer?: BridgeServerObserver;
}

/** What a {@link BridgeServer} reports about the load it sheds. */
export interface BridgeServerObserver {
  /** A connection the server closed or refused itself. */
  connectionClosed?(reason: ConnectionCloseReason): void;
  /** accept() failed (EMFILE, ENFILE…): the connection never reached the server. */
  acceptError?(code: string): void;
  /** A call answered with an error before it was served. */
  callRefused?(reason: CallRefusal): void;
}

/** Where a listening {@link BridgeServer} can be reached. */
export interface BridgeServerAddress {
  /** The address bound, as given in the options. */
  readonly host: string;
  /** The port bound; the real one when the options asked for 0. Undefined: socket only. */
  readonly port: number | undefined;
  /**
   * A base URL clients on this machine can use, e.g. "http://127.0.0.1:9090" ("https://…"
   * with TLS). Undefined when only the Unix socket is served.
   */
  readonly url: string | undefined;
  /** The Unix socket also served, when configured. */
  readonly socketPath?: string;
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
  /**
   * Starts draining without closing: health reports NOT_SERVING and `drainSignal` aborts,
   * while every call and connection goes on. `close()` drains first. Idempotent.
   */
  drain(): void;
  /** Aborted once `drain()` or `close()` is called. */
  readonly drainSignal: AbortSignal;
  /** Connections open now (TCP and Unix socket). */
  readonly connections: number;
  /** Calls (HTTP/2 streams, HTTP/1.1 requests) open now. */
  readonly calls: number;
}

function clientUrl(host: string, port: number, secure: boolean): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  const scheme = secure ? "https" : "http";
  return `${scheme}://${net.isIPv6(reachable) ? `[${reachable}]` : reachable}:${port}`;
}

const notFound: HttpHandler = (_req, res) => {
  res.writeHead(404, { "content-type": "text/plain" });
  res.end("not found\n");
};

/**
 * Removes a Unix socket file left by a process that died, so listen() can bind it; a
 * socket something still answers on is left alone (listen() then fails EADDRINUSE).
 */
async function removeStaleSocket(path: string): Promise<void> {
  fs.mkdirSync(dirname(path), { recursive: true });
  try {
    const stats = fs.lstatSync(path, { throwIfNoEntry: false });
    if (stats === undefined || !stats.isSocket()) return;
    const alive = await new Promise<boolean>((resolve) => {
      const probe = net.connect(path);
      probe.once("connect", () => {
        probe.destroy();
        resolve(true);
      });
      probe.once("error", () => resolve(false));
    });
    if (!alive) fs.rmSync(path, { force: true });
  } finally {
    // Node's module loaders resolve symlinks with a realpath that stops early when the
    // process's last synchronous stat saw a socket (they read a shared stat buffer), and
    // lstat and rm just saw one: rtc-node, loaded after this, was then found through
    // pnpm's symlink, where its dependencies are not. A stat of the folder overwrites it.
    fs.statSync(dirname(path));
  }
}

/** Creates a {@link BridgeServer}; nothing is bound until `listen()`. */
export function createBridgeServer(options: BridgeServerOptions): BridgeServer {
  if (options.port === undefined && options.unixSocket === undefined) {
    throw new Error("the bridge server needs a TCP port or a Unix socket to listen on");
  }
  if (options.port === undefined && options.tls !== undefined) {
    throw new Error("TLS needs a TCP port: the Unix socket is always cleartext");
  }
  const logger = options.logger ?? silentLogger;
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  const firstBytesTimeoutMs = options.firstBytesTimeoutMs ?? 10_000;
  const observer = options.observer ?? {};
  const shutdown = new AbortController();
  const draining = new AbortController();
  const drainNow = () => {
    if (!draining.signal.aborted) {
      draining.abort(new ConnectError("the bridge is draining", Code.Unavailable));
    }
  };
  const appRoutes = options.routes(draining.signal);
  const callGuard = createCallGuard({
    maxCalls: options.maxCalls ?? 4000,
    firstMessageTimeoutMs: options.firstMessageTimeoutMs ?? 10_000,
    onRefused: (reason) => observer.callRefused?.(reason),
    onSaturated: (saturated) => {
      throttled = saturated;
      for (const session of sessions) throttle(session, saturated);
    },
  });
  // While the calls are at their limit, every HTTP/2 connection is told (SETTINGS) it may
  // open one stream more than it has: nghttp2 then refuses the rest (REFUSED_STREAM)
  // itself, which costs next to nothing, where answering each one ResourceExhausted costs
  // the event loop ~0.3 ms: 26,000 of them held an innocent user's audio for 2.7 s.
  const maxConcurrentStreams = options.maxConcurrentStreams ?? 1000;
  const openStreams = new WeakMap<http2.ServerHttp2Session, number>();
  let throttled = false;
  function throttle(session: http2.ServerHttp2Session, on: boolean): void {
    if (session.destroyed || session.closed) return;
    const limit = on
      ? Math.min(maxConcurrentStreams, (openStreams.get(session) ?? 0) + 1)
      : maxConcurrentStreams;
    try {
      session.settings({ maxConcurrentStreams: limit });
    } catch {
      // Too many unacknowledged SETTINGS from a peer that never acks: the per-call limit stands.
    }
  }
  const rpcHandler = withPacedJoins(
    withSpecGrpcMessage(
      connectNodeAdapter({
        routes(router) {
          appRoutes(router);
          registerGrpcHealth(router, { shutdownSignal: draining.signal });
          registerReflection(router);
        },
        shutdownSignal: shutdown.signal,
        // Handlers that hand out credentials need to know whether the caller is local.
        contextValues: callerContextValues,
        // Responses are never compressed: room audio is PCM, which gzip barely shrinks, and
        // compressing every chunk cost the bridge a few % of a core per session. Compressed
        // requests are still accepted.
        compressMinBytes: Number.MAX_SAFE_INTEGER,
        ...(options.readMaxBytes === undefined ? {} : { readMaxBytes: options.readMaxBytes }),
        interceptors: [...(options.interceptors ?? [])],
        fallback: options.http ?? notFound,
        connect: true,
        grpc: true,
        grpcWeb: true,
      }),
    ),
  );
  const handler = callGuard.wrap(rpcHandler);

  const sockets = new Set<net.Socket>();
  const unsniffed = new Set<net.Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  // Open responses per HTTP/1.1 connection. Node tracks idle connections only for
  // servers that listen themselves, so closeIdleConnections() would be a no-op here.
  const http1Connections = new Map<net.Socket, Set<http.ServerResponse>>();
  const sessionOf = new Map<net.Socket, http2.ServerHttp2Session>();
  const connectionGuard = createConnectionGuard({
    maxConnections: options.maxConnections ?? defaultMaxConnections(),
    firstRequestTimeoutMs: options.firstRequestTimeoutMs ?? 10_000,
    idleTimeoutMs: options.idleConnectionTimeoutMs ?? 300_000,
    onClosed: (reason) => observer.connectionClosed?.(reason),
    close(socket, graceful) {
      const session = sessionOf.get(socket);
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

  const http1Server = http.createServer((req, res) => {
    const open = http1Connections.get(req.socket);
    open?.add(res);
    connectionGuard.callStarted(req.socket);
    res.once("close", () => connectionGuard.callEnded(req.socket));
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

  const http2Server = http2.createServer({ settings: { maxConcurrentStreams } }, handler);
  // The socket being handed to the HTTP/2 server: its "session" event comes synchronously,
  // and session.socket is a proxy, not the socket the guards know.
  let handingOver: net.Socket | undefined;
  http2Server.on("session", (session: http2.ServerHttp2Session) => {
    sessions.add(session);
    const socket = handingOver;
    if (socket !== undefined) sessionOf.set(socket, session);
    session.on("stream", (stream: http2.ServerHttp2Stream) => {
      if (socket !== undefined) connectionGuard.callStarted(socket);
      openStreams.set(session, (openStreams.get(session) ?? 0) + 1);
      stream.once("close", () => {
        if (socket !== undefined) connectionGuard.callEnded(socket);
        openStreams.set(session, (openStreams.get(session) ?? 1) - 1);
      });
    });
    if (throttled) throttle(session, true);
    session.once("close", () => {
      sessions.delete(session);
      if (socket !== undefined) sessionOf.delete(socket);
    });
    if (shutdown.signal.aborted) session.close();
  });
  http2Server.on("sessionError", (error: Error) => {
    logger.debug("HTTP/2 session error", { error: error.message });
  });

  function onConnection(socket: net.Socket): void {
    // Without a listener, one client's reset connection would crash the process.
    socket.on("error", (error: NodeJS.ErrnoException) => {
      logger.debug("connection error", { error: error.code ?? error.message });
    });
    if (!connectionGuard.admit(socket)) return;
    sockets.add(socket);
    socket.once("close", () => {
      sockets.delete(socket);
      unsniffed.delete(socket);
      http1Connections.delete(socket);
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
          handingOver = socket;
          try {
            http2Server.emit("connection", socket);
          } finally {
            handingOver = undefined;
          }
        } else {
          http1Connections.set(socket, new Set());
          http1Server.emit("connection", socket);
          socket.resume();
        }
      },
    });
  }

  // With TLS, the decrypted socket is sniffed like a cleartext one: an HTTP/2 client sends
  // the connection preface whether it chose h2 by ALPN or by prior knowledge.
  const tcpServer: net.Server | undefined =
    options.port === undefined
      ? undefined
      : options.tls === undefined
        ? net.createServer(onConnection)
        : tls.createServer(
            {
              cert: options.tls.cert,
              key: options.tls.key,
              ALPNProtocols: ["h2", "http/1.1"],
              handshakeTimeout: firstBytesTimeoutMs,
            },
            onConnection,
          );
  if (tcpServer !== undefined && options.tls !== undefined) {
    // Sockets still in their handshake are not in `sockets` yet; close() must cut them too.
    tcpServer.on("connection", (socket: net.Socket) => {
      sockets.add(socket);
      socket.once("close", () => sockets.delete(socket));
    });
    tcpServer.on("tlsClientError", (error: NodeJS.ErrnoException) => {
      logger.debug("TLS handshake failed", { error: error.code ?? error.message });
    });
  }
  const unixServer =
    options.unixSocket === undefined
      ? undefined
      : net.createServer((socket) => {
          markUnixSocket(socket);
          onConnection(socket);
        });
  if (tcpServer !== undefined && options.tls !== undefined) {
    // Sockets in their TLS handshake are not admitted yet: Node's own limit bounds them.
    tcpServer.maxConnections = options.maxConnections ?? defaultMaxConnections();
  }
  // Errors while binding reach the caller of listen(); later ones (accept() failing with
  // EMFILE when descriptors run out) are counted and logged, never thrown: libuv keeps a
  // spare descriptor to shed the connection it cannot accept.
  let lastAcceptErrorLog = 0;
  for (const server of [tcpServer, unixServer]) {
    server?.on("error", (error: NodeJS.ErrnoException) => {
      if (!server.listening) return;
      observer.acceptError?.(error.code ?? "unknown");
      const now = performance.now();
      if (now - lastAcceptErrorLog < 1000) return;
      lastAcceptErrorLog = now;
      logger.error("listener error", { error: error.message, connections: sockets.size });
    });
  }

  let listening: Promise<BridgeServerAddress> | undefined;
  let closing: Promise<void> | undefined;

  function currentAddress(): BridgeServerAddress | undefined {
    const bound = tcpServer?.address();
    const port = bound === null || typeof bound !== "object" ? undefined : bound.port;
    const socketPath = unixServer?.listening === true ? options.unixSocket : undefined;
    if (port === undefined && socketPath === undefined) return undefined;
    return {
      host: options.host,
      port,
      url:
        port === undefined ? undefined : clientUrl(options.host, port, options.tls !== undefined),
      ...(socketPath === undefined ? {} : { socketPath }),
    };
  }

  function bind(server: net.Server, target: net.ListenOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.once("error", onError);
      server.listen(target, () => {
        server.off("error", onError);
        resolve();
      });
    });
  }

  function listen(): Promise<BridgeServerAddress> {
    listening ??= (async () => {
      if (closing !== undefined) {
        throw new Error("the bridge server is closed and cannot listen again");
      }
      if (tcpServer !== undefined) {
        await bind(tcpServer, { host: options.host, port: options.port });
      }
      if (unixServer !== undefined && options.unixSocket !== undefined) {
        try {
          await removeStaleSocket(options.unixSocket);
          await bind(unixServer, { path: options.unixSocket });
          // The cloud may run as another user than the bridge (the deployed bridge does this).
          fs.chmodSync(options.unixSocket, 0o666);
        } catch (error) {
          if (unixServer.listening) await new Promise<void>((r) => unixServer.close(() => r()));
          if (tcpServer?.listening) await new Promise<void>((r) => tcpServer.close(() => r()));
          throw error;
        }
      }
      const address = currentAddress();
      if (address === undefined) throw new Error("the listener has no address");
      return address;
    })();
    return listening;
  }

  async function drain(): Promise<void> {
    drainNow();
    shutdown.abort(new ConnectError("the bridge is shutting down", Code.Unavailable));
    // Closing the Unix socket's server also removes its file.
    const closed = Promise.all(
      [tcpServer, unixServer].map(
        (server) =>
          new Promise<void>((resolve) => {
            if (server?.listening === true) server.close(() => resolve());
            else resolve();
          }),
      ),
    );
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
      connectionGuard.stop();
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
    drain: drainNow,
    drainSignal: draining.signal,
    get connections() {
      return connectionGuard.size;
    },
    get calls() {
      return callGuard.calls;
    },
  };
}

const BRIDGE_SERVICE = "/mentra.livekit.bridge.LiveKitBridge/";

/**
 * The calls the registry runs in order per user (JoinRoom, LeaveRoom): they are started
 * in the order they arrive, through one queue, so pacing never lets a LeaveRoom overtake
 * the JoinRoom sent before it (the user's last call has to win).
 */
const ORDERED_PATHS: ReadonlySet<string> = new Set([
  `${BRIDGE_SERVICE}JoinRoom`,
  `${BRIDGE_SERVICE}LeaveRoom`,
]);

/**
 * Starts JoinRoom and LeaveRoom requests one per event-loop turn, in arrival order. A
 * cloud that sends a burst of JoinRooms on one connection hands Node hundreds of streams
 * in one socket read, and handling each (about 1 ms of JavaScript here: headers,
 * interceptors, the answer) in one go blocked the loop for 200 ms, pausing every running
 * session's audio. Between two of them the loop now polls I/O, so room audio and other
 * calls (HealthCheck, StreamAudio) go on; those other RPCs are never held. LeaveRoom waits
 * in the same queue: the registry fixes a user's call order when a call's handler starts,
 * so a LeaveRoom started at once would overtake the JoinRooms waiting before it.
 */
export function withPacedJoins<Req extends { readonly url?: string | undefined }, Res>(
  handler: (req: Req, res: Res) => void,
): (req: Req, res: Res) => void {
  const waiting: (() => void)[] = [];
  let scheduled = false;
  const next = () => {
    waiting.shift()?.();
    if (waiting.length > 0) setImmediate(next);
    else scheduled = false;
  };
  return (req, res) => {
    if (req.url === undefined || !ORDERED_PATHS.has(req.url)) {
      handler(req, res);
      return;
    }
    waiting.push(() => handler(req, res));
    if (!scheduled) {
      scheduled = true;
      setImmediate(next);
    }
  };
}
