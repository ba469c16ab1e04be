import * as fs from "node:fs";
import * as net from "node:net";
import * as tls from "node:tls";
import type { Logger } from "../logger.js";
import { markUnixSocket } from "../security/caller.js";
import type { BridgeServerAddress, BridgeServerObserver, BridgeServerOptions } from "./options.js";
import { removeStaleSocket } from "./unix-socket.js";

/** The server's listening sockets: the TCP port (cleartext or TLS) and the Unix socket. */
export interface Listeners {
  /** Binds the TCP port, then the Unix socket; on a failure, closes what it bound. */
  bind(): Promise<BridgeServerAddress>;
  /** Stops accepting: resolves once both listeners are closed (the socket file removed). */
  close(): Promise<void>;
  /** The bound address; undefined before `bind()` resolves and after `close()`. */
  address(): BridgeServerAddress | undefined;
}

/** Options of {@link createListeners}. */
export interface ListenersOptions
  extends Pick<BridgeServerOptions, "host" | "port" | "unixSocket" | "tls"> {
  /** The TLS handshake's time limit, as for a cleartext connection's first bytes. */
  readonly firstBytesTimeoutMs: number;
  /** Bounds the sockets in their TLS handshake (not admitted yet). */
  readonly maxConnections: number;
  /** Takes each accepted socket (decrypted, for TLS). */
  readonly accept: (socket: net.Socket) => void;
  /** Told of each TCP socket of a TLS listener before its handshake. */
  readonly trackHandshake: (socket: net.Socket) => void;
  /** Open connections, for the log of accept errors. */
  readonly openConnections: () => number;
  readonly observer: BridgeServerObserver;
  readonly logger: Logger;
}

/**
 * Pending connections the kernel queues before Node accepts them (Node's default is 511,
 * the kernel caps it at net.core.somaxconn, 4096 on current kernels). A burst of a few
 * thousand connections overflowed 511: the kernel dropped SYNs, among them a HealthCheck's,
 * whose client only tried again a second later.
 */
export const LISTEN_BACKLOG = 4096;

function clientUrl(host: string, port: number, secure: boolean): string {
  const reachable = host === "0.0.0.0" ? "127.0.0.1" : host === "::" ? "::1" : host;
  const scheme = secure ? "https" : "http";
  return `${scheme}://${net.isIPv6(reachable) ? `[${reachable}]` : reachable}:${port}`;
}

function bindOne(server: net.Server, target: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => reject(error);
    server.once("error", onError);
    server.listen(target, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

function closeOne(server: net.Server | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (server?.listening === true) server.close(() => resolve());
    else resolve();
  });
}

function createTcpServer(options: ListenersOptions): net.Server | undefined {
  if (options.port === undefined) return undefined;
  if (options.tls === undefined) return net.createServer(options.accept);
  // With TLS, the decrypted socket is sniffed like a cleartext one: an HTTP/2 client sends
  // the connection preface whether it chose h2 by ALPN or by prior knowledge.
  const server = tls.createServer(
    {
      cert: options.tls.cert,
      key: options.tls.key,
      ALPNProtocols: ["h2", "http/1.1"],
      handshakeTimeout: options.firstBytesTimeoutMs,
    },
    options.accept,
  );
  // Sockets still in their handshake are not tracked as connections yet; close() must cut
  // them too.
  server.on("connection", options.trackHandshake);
  server.on("tlsClientError", (error: NodeJS.ErrnoException) => {
    options.logger.debug("TLS handshake failed", { error: error.code ?? error.message });
  });
  // Sockets in their TLS handshake are not admitted yet: Node's own limit bounds them.
  server.maxConnections = options.maxConnections;
  return server;
}

/** Creates the listeners; nothing is bound until `bind()`. */
export function createListeners(options: ListenersOptions): Listeners {
  const tcpServer = createTcpServer(options);
  const unixServer =
    options.unixSocket === undefined
      ? undefined
      : net.createServer((socket) => {
          markUnixSocket(socket);
          options.accept(socket);
        });
  // Errors while binding reach the caller of bind(); later ones (accept() failing with
  // EMFILE when descriptors run out) are counted and logged, never thrown: libuv keeps a
  // spare descriptor to shed the connection it cannot accept.
  let lastAcceptErrorLog = 0;
  for (const server of [tcpServer, unixServer]) {
    server?.on("error", (error: NodeJS.ErrnoException) => {
      if (!server.listening) return;
      options.observer.acceptError?.(error.code ?? "unknown");
      const now = performance.now();
      if (now - lastAcceptErrorLog < 1000) return;
      lastAcceptErrorLog = now;
      options.logger.error("listener error", {
        error: error.message,
        connections: options.openConnections(),
      });
    });
  }

  function address(): BridgeServerAddress | undefined {
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

  async function bind(): Promise<BridgeServerAddress> {
    if (tcpServer !== undefined) {
      await bindOne(tcpServer, {
        host: options.host,
        port: options.port,
        backlog: LISTEN_BACKLOG,
      });
    }
    if (unixServer !== undefined && options.unixSocket !== undefined) {
      try {
        await removeStaleSocket(options.unixSocket);
        await bindOne(unixServer, { path: options.unixSocket, backlog: LISTEN_BACKLOG });
        // The cloud may run as another user than the bridge (the deployed bridge does this).
        fs.chmodSync(options.unixSocket, 0o666);
      } catch (error) {
        if (unixServer.listening) await closeOne(unixServer);
        if (tcpServer?.listening) await closeOne(tcpServer);
        throw error;
      }
    }
    const bound = address();
    if (bound === undefined) throw new Error("the listener has no address");
    return bound;
  }

  return {
    bind,
    // Closing the Unix socket's server also removes its file.
    close: () => Promise.all([closeOne(tcpServer), closeOne(unixServer)]).then(() => {}),
    address,
  };
}
