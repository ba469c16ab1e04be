import { readFileSync } from "node:fs";
import type { Interceptor } from "@connectrpc/connect";
import type { Config } from "./config.js";
import { createHttpEndpoints } from "./http-endpoints.js";
import type { Logger } from "./logger.js";
import { type BridgeMetrics, createBridgeMetrics } from "./observability/metrics.js";
import { createReadiness, type Readiness } from "./observability/readiness.js";
import { requestContextInterceptor } from "./observability/request-context.js";
import { createServerMetrics } from "./observability/server-metrics.js";
import { createBridgeRoutes } from "./rpc/routes.js";
import { createApiKeyInterceptor, isLoopbackHost } from "./security/api-key.js";
import { createJoinLimits } from "./security/join-limits.js";
import {
  type BridgeServer,
  type BridgeServerAddress,
  type BridgeServerOptions,
  createBridgeServer,
} from "./server.js";
import { type LiveKitTarget, SessionRegistry } from "./session/registry.js";

/** Options of {@link createBridgeApp}. */
export interface BridgeAppOptions {
  readonly config: Config;
  /** The LiveKit sessions join by default (configured or embedded). */
  readonly livekit: LiveKitTarget;
  readonly logger: Logger;
  /** Replaces fetch for the readiness probe of LiveKit, for tests. */
  readonly fetch?: typeof fetch;
}

/** The whole bridge in one process: sessions, RPCs, probes, metrics, limits. */
export interface BridgeApp {
  readonly registry: SessionRegistry;
  readonly server: BridgeServer;
  readonly metrics: BridgeMetrics;
  readonly readiness: Readiness;
  /** Binds the port (and the Unix socket); warns when open beyond loopback without a key. */
  listen(): Promise<BridgeServerAddress>;
  /**
   * Shuts down gracefully, in this order: readiness and health go NOT_SERVING and new
   * sessions are refused (Unavailable); open PlayAudio calls get up to
   * `playbackDrainMs` to finish; every session leaves its room; the server drains and
   * closes. Idempotent.
   */
  close(): Promise<void>;
}

// How often shutdown looks whether the playbacks are done.
const PLAYBACK_POLL_MS = 50;

/**
 * The protocol-level message limit: twice the chunk limit, so a chunk somewhat over
 * MAX_CHUNK_BYTES gets the precise InvalidArgument, and anything far beyond is refused
 * (ResourceExhausted) before it is buffered.
 */
function readLimit(maxChunkBytes: number): number {
  return 2 * maxChunkBytes + 64 * 1024;
}

/** The connection and call limits of the server, from the settings (MAX_CONNECTIONS 0: the default). */
export function serverLimitsOf(
  config: Config,
): Pick<
  BridgeServerOptions,
  | "maxConcurrentStreams"
  | "maxConnections"
  | "firstRequestTimeoutMs"
  | "idleConnectionTimeoutMs"
  | "maxCalls"
  | "firstMessageTimeoutMs"
> {
  return {
    maxConcurrentStreams: config.maxStreamsPerConnection,
    ...(config.maxConnections === 0 ? {} : { maxConnections: config.maxConnections }),
    firstRequestTimeoutMs: config.firstRequestTimeoutMs,
    idleConnectionTimeoutMs: config.idleConnectionTimeoutMs,
    maxCalls: config.maxCalls,
    firstMessageTimeoutMs: config.firstMessageTimeoutMs,
  };
}

/** Wires the bridge from its settings; nothing is bound until `listen()`. */
export function createBridgeApp(options: BridgeAppOptions): BridgeApp {
  const { config, logger } = options;
  // The metrics read the sessions only when scraped, after the registry exists.
  const metrics = createBridgeMetrics({
    sessions: {
      counts: () => registry.counts(),
      status: (userId) => registry.status(userId),
      isLive: (userId) => registry.get(userId) !== undefined,
    },
  });
  const registry = new SessionRegistry({
    config,
    livekit: options.livekit,
    logger,
    audioLatency: metrics.audioLatency,
  });
  // The server's drain signal exists only once the server does; the limits read it late.
  let server: BridgeServer | undefined;
  const isDraining = () => server?.drainSignal.aborted === true;
  const interceptors: Interceptor[] = [requestContextInterceptor, metrics.interceptor];
  if (config.apiKey !== undefined) {
    interceptors.push(createApiKeyInterceptor({ apiKey: config.apiKey, logger }));
  }
  interceptors.push(
    createJoinLimits({
      sessions: {
        count: () => registry.counts().sessions,
        has: (userId) => registry.get(userId) !== undefined,
      },
      maxSessions: config.maxSessions,
      ratePerMinute: config.joinRatePerMinute,
      burst: config.joinBurst,
      isDraining,
    }),
  );
  const readiness = createReadiness({
    livekitUrl: options.livekit.url,
    listening: () => server?.address !== undefined,
    isDraining,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  });
  server = createBridgeServer({
    host: config.host,
    port: config.port,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    readMaxBytes: readLimit(config.maxChunkBytes),
    ...serverLimitsOf(config),
    observer: createServerMetrics(metrics.registry, () => server),
    logger,
    interceptors,
    http: createHttpEndpoints({ readiness, metrics }),
    ...(config.unixSocket === undefined ? {} : { unixSocket: config.unixSocket }),
    ...(config.tls === undefined
      ? {}
      : {
          tls: { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) },
        }),
    routes: (shutdownSignal) =>
      createBridgeRoutes({ registry, maxChunkBytes: config.maxChunkBytes, logger, shutdownSignal }),
  });
  const bound = server;

  let closing: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    bound.drain();
    const started = performance.now();
    // AudioSession clients are told to move their sessions; one that has moved loses
    // this bridge's room (LiveKit hands it to the new bridge) and its session closes.
    const told = registry.notifyDraining(Date.now() + config.handoffDrainMs);
    if (told > 0) {
      logger.info("asking clients to move their sessions", {
        sessions: told,
        withinMs: config.handoffDrainMs,
      });
    }
    const waiting = () =>
      (metrics.openCalls("PlayAudio") > 0 &&
        performance.now() < started + config.playbackDrainMs) ||
      (registry.movableSessions() > 0 && performance.now() < started + config.handoffDrainMs);
    while (waiting()) {
      await new Promise((resolve) => setTimeout(resolve, PLAYBACK_POLL_MS));
    }
    const playing = metrics.openCalls("PlayAudio");
    if (playing > 0) logger.warn("playbacks cut by shutdown", { playbacks: playing });
    // Sessions first: their streams end with Unavailable, so the drain does not wait on them.
    const sessionsClosed = registry.closeAll();
    await bound.close();
    await sessionsClosed;
  }

  return {
    registry,
    server: bound,
    metrics,
    readiness,
    async listen() {
      const address = await bound.listen();
      // Only a TCP listener can be open beyond loopback; a Unix socket alone (the deployed
      // LIVEKIT_GRPC_SOCKET) is as private as its folder.
      const tcp = address.port !== undefined;
      if (tcp && config.apiKey === undefined && !isLoopbackHost(config.host)) {
        logger.warn(
          "listening beyond loopback without BRIDGE_API_KEY: any caller that reaches the port can join rooms with its own token (the bridge mints tokens only for local callers)",
          { host: config.host },
        );
      }
      return address;
    },
    close() {
      closing ??= shutdown();
      return closing;
    },
  };
}
