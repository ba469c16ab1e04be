import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { ConnectRouter, Interceptor } from "@connectrpc/connect";
import type { connectNodeAdapter } from "@connectrpc/connect-node";
import type { CallRefusal } from "../call-guard.js";
import type { ConnectionCloseReason } from "../connection-guard.js";
import type { Logger } from "../logger.js";

/** A plain HTTP handler, as connect-node hands non-RPC requests to it (either HTTP version). */
export type HttpHandler = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;

/** The server's handler of every request (RPC or not) on either HTTP version. */
export type RequestHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

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
  /** Connections open at once; default `defaultMaxConnections()` (connection-guard.ts). */
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
