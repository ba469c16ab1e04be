import type * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { createCallGuard } from "./call-guard.js";
import { defaultMaxConnections } from "./connection-guard.js";
import { silentLogger } from "./logger.js";
import { createConnections } from "./server/connections.js";
import { createListeners } from "./server/listeners.js";
import type { BridgeServer, BridgeServerAddress, BridgeServerOptions } from "./server/options.js";
import { createRpcHandler } from "./server/rpc-handler.js";
import { createStreamThrottle } from "./server/stream-throttle.js";

export type {
  BridgeServer,
  BridgeServerAddress,
  BridgeServerObserver,
  BridgeServerOptions,
  BridgeTlsOptions,
  HttpHandler,
} from "./server/options.js";
export { withPacedJoins } from "./server/paced-joins.js";

/**
 * Creates a {@link BridgeServer}; nothing is bound until `listen()`. The parts are in
 * server/: the listeners (TCP, TLS, Unix socket), the connections behind them (guard,
 * protocol sniffing, HTTP/1.1 and h2c), the RPC handler (paced joins), the stream throttle.
 */
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
  const maxConcurrentStreams = options.maxConcurrentStreams ?? 1000;
  const maxConnections = options.maxConnections ?? defaultMaxConnections();
  const observer = options.observer ?? {};
  const shutdown = new AbortController();
  const draining = new AbortController();
  const drainNow = () => {
    if (!draining.signal.aborted) {
      draining.abort(new ConnectError("the bridge is draining", Code.Unavailable));
    }
  };
  const sessions = new Set<http2.ServerHttp2Session>();
  const throttle = createStreamThrottle({ maxConcurrentStreams, sessions });
  const callGuard = createCallGuard({
    maxCalls: options.maxCalls ?? 4000,
    firstMessageTimeoutMs: options.firstMessageTimeoutMs ?? 10_000,
    onRefused: (reason) => observer.callRefused?.(reason),
    onSaturated: (saturated) => throttle.setSaturated(saturated),
  });
  const handler = callGuard.wrap(
    createRpcHandler({
      routes: options.routes(draining.signal),
      drainSignal: draining.signal,
      shutdownSignal: shutdown.signal,
      ...(options.readMaxBytes === undefined ? {} : { readMaxBytes: options.readMaxBytes }),
      ...(options.interceptors === undefined ? {} : { interceptors: options.interceptors }),
      ...(options.http === undefined ? {} : { http: options.http }),
    }),
  );
  const connections = createConnections({
    handler,
    maxConnections,
    firstRequestTimeoutMs: options.firstRequestTimeoutMs ?? 10_000,
    idleTimeoutMs: options.idleConnectionTimeoutMs ?? 300_000,
    firstBytesTimeoutMs,
    maxConcurrentStreams,
    sessions,
    throttle,
    shutdownSignal: shutdown.signal,
    logger,
    onClosed: (reason) => observer.connectionClosed?.(reason),
  });
  const listeners = createListeners({
    host: options.host,
    port: options.port,
    ...(options.unixSocket === undefined ? {} : { unixSocket: options.unixSocket }),
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    firstBytesTimeoutMs,
    maxConnections,
    accept: connections.accept,
    trackHandshake: connections.trackHandshake,
    openConnections: () => connections.open,
    observer,
    logger,
  });

  let listening: Promise<BridgeServerAddress> | undefined;
  let closing: Promise<void> | undefined;

  async function drain(): Promise<void> {
    drainNow();
    shutdown.abort(new ConnectError("the bridge is shutting down", Code.Unavailable));
    const closed = listeners.close();
    connections.drain();
    const deadline = setTimeout(() => {
      if (connections.open > 0) {
        logger.warn("shutdown timeout reached, cutting open connections", {
          connections: connections.open,
          shutdownTimeoutMs,
        });
      }
      connections.destroyAll();
    }, shutdownTimeoutMs);
    try {
      await closed;
    } finally {
      clearTimeout(deadline);
      connections.stop();
    }
  }

  return {
    listen() {
      listening ??= (async () => {
        if (closing !== undefined) {
          throw new Error("the bridge server is closed and cannot listen again");
        }
        return listeners.bind();
      })();
      return listening;
    },
    close() {
      closing ??= drain();
      return closing;
    },
    get address() {
      return listeners.address();
    },
    shutdownSignal: shutdown.signal,
    drain: drainNow,
    drainSignal: draining.signal,
    get connections() {
      return connections.admitted;
    },
    get calls() {
      return callGuard.calls;
    },
  };
}
