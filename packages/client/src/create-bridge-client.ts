import * as net from "node:net";
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { HealthCheckResponse_ServingStatus, LiveKitBridge } from "@mentra/bridge-proto";
import type { BackoffOptions } from "./backoff.js";
import { EndpointRouter } from "./endpoint-router.js";
import { toBridgeError } from "./errors.js";
import type { JoinRequest } from "./rpc-calls.js";
import {
  type BridgeSession,
  joinOnAnsweringBridge,
  openSession,
  type SessionRouting,
  type SessionSettings,
} from "./session.js";

/** Wire protocols the bridge speaks on its one port. */
export type BridgeProtocol = "grpc" | "connect" | "grpc-web";

/** Options of {@link createBridgeClient}. */
export interface BridgeClientOptions {
  /** The bridge's base URL, e.g. `http://localhost:9090`. */
  readonly baseUrl?: string;
  /**
   * Several bridges: each user is pinned to one by rendezvous hashing on its id, and moves
   * to its next-ranked bridge when that one is down (at its next reconnect otherwise).
   * Replaces baseUrl.
   */
  readonly endpoints?: readonly string[];
  /** How long a bridge that did not answer is passed over (default 5000 ms). */
  readonly endpointDownMs?: number;
  /** Default "grpc" (HTTP/2), as the deployed cloud calls it. */
  readonly protocol?: BridgeProtocol;
  /** Connect to this Unix socket instead of baseUrl's host and port. */
  readonly socketPath?: string;
  /** Sent as `authorization: Bearer …` when set. */
  readonly apiKey?: string;
  /**
   * A ready transport (tests, custom sockets), or one per endpoint; replaces protocol and
   * socketPath (and baseUrl, for a single transport).
   */
  readonly transport?: Transport | ((endpoint: string) => Transport);
  /** HTTP/2 PING interval that finds dead connections; default 5000 ms. */
  readonly keepaliveMs?: number;
  /** Reconnect backoff: full jitter, first retry ≤ 300 ms, capped at 1.5 s by default. */
  readonly backoff?: BackoffOptions;
  /** Audio sent during an outage waits up to this long (default 2000 ms); older is dropped. */
  readonly sendBufferMs?: number;
  /** Received audio not yet read is kept up to this long (default 5000 ms). */
  readonly receiveBufferMs?: number;
  /** Silence with the device in the room that triggers a status check (default 0: off). */
  readonly watchdogMs?: number;
  /** Mints a fresh LiveKit token whenever a session must re-join. */
  readonly getToken?: (userId: string, roomName: string) => Promise<string>;
  /** Re-join after another participant took the bridge's identity (default false). */
  readonly recoverFromIdentityTaken?: boolean;
  /** How often the bridge sends TrackStats per track (ms); default 100, -1 never. */
  readonly statsIntervalMs?: number;
  /** A stream quiet this long is probed with GetStatus; a failed probe reconnects (default 5000 ms; 0: off). */
  readonly livenessMs?: number;
}

/** The bridge's health as the client reports it. */
export interface BridgeHealth {
  status: "unknown" | "serving" | "not-serving" | "service-unknown";
  activeSessions: number;
  activeStreams: number;
  uptimeSeconds: number;
  version: string | undefined;
}

/** Per-call options. */
export interface CallOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** The typed client of the MentraOS LiveKit bridge. */
export interface BridgeClient {
  /** Asks the bridge whether it serves, with its live figures. */
  health(options?: CallOptions): Promise<BridgeHealth>;
  /** Joins a room for a user and returns the live session. Rejects with a BridgeError. */
  join(request: JoinRequest, options?: { signal?: AbortSignal }): Promise<BridgeSession>;
  /** Leaves every session this client opened. */
  close(): Promise<void>;
  /** The generated Connect client, for anything this wrapper does not cover. */
  readonly rpc: Client<typeof LiveKitBridge>;
}

const STATUS: Record<HealthCheckResponse_ServingStatus, BridgeHealth["status"]> = {
  [HealthCheckResponse_ServingStatus.UNKNOWN]: "unknown",
  [HealthCheckResponse_ServingStatus.SERVING]: "serving",
  [HealthCheckResponse_ServingStatus.NOT_SERVING]: "not-serving",
  [HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN]: "service-unknown",
};

function transportFor(options: BridgeClientOptions, baseUrl: string): Transport {
  if (typeof options.transport === "function") return options.transport(baseUrl);
  if (options.transport) return options.transport;
  const interceptors: Interceptor[] = [];
  const { apiKey, socketPath } = options;
  if (apiKey) {
    interceptors.push((next) => (req) => {
      req.header.set("authorization", `Bearer ${apiKey}`);
      return next(req);
    });
  }
  const keepalive = options.keepaliveMs ?? 5_000;
  const http2 = {
    baseUrl: socketPath === undefined ? baseUrl : "http://localhost",
    interceptors,
    httpVersion: "2" as const,
    pingIntervalMs: keepalive,
    pingTimeoutMs: keepalive,
    ...(socketPath === undefined
      ? {}
      : { nodeOptions: { createConnection: () => net.connect(socketPath) } }),
  };
  switch (options.protocol ?? "grpc") {
    case "grpc":
      return createGrpcTransport(http2);
    case "connect":
      return createConnectTransport(http2);
    case "grpc-web":
      return createGrpcWebTransport(http2);
  }
}

/** Creates a client for the bridge at `options.baseUrl` (or `options.socketPath`). */
export function createBridgeClient(options: BridgeClientOptions): BridgeClient {
  const endpoints = options.endpoints ?? (options.baseUrl === undefined ? [] : [options.baseUrl]);
  if (endpoints.length === 0 && options.transport === undefined) {
    throw new RangeError("createBridgeClient needs baseUrl, endpoints or transport");
  }
  const router = new EndpointRouter({
    endpoints: endpoints.length === 0 ? [""] : endpoints,
    connect: (endpoint) => createClient(LiveKitBridge, transportFor(options, endpoint)),
    ...(options.endpointDownMs === undefined ? {} : { downForMs: options.endpointDownMs }),
  });
  const rpc = router.clientOf(router.all[0] ?? "");
  const sessions = new Set<BridgeSession>();
  const settings: SessionSettings = {
    backoff: options.backoff ?? {},
    sendBufferMs: options.sendBufferMs ?? 2_000,
    receiveBufferMs: options.receiveBufferMs ?? 5_000,
    watchdogMs: options.watchdogMs ?? 0,
    livenessMs: options.livenessMs ?? 5_000,
    getToken: options.getToken,
    recoverFromIdentityTaken: options.recoverFromIdentityTaken ?? false,
    statsIntervalMs: options.statsIntervalMs ?? 0,
  };
  return {
    rpc,
    async health(call = {}) {
      try {
        const res = await rpc.healthCheck({}, call);
        return {
          status: STATUS[res.status] ?? "unknown",
          activeSessions: res.activeSessions,
          activeStreams: res.activeStreams,
          uptimeSeconds: Number(res.uptimeSeconds),
          version: res.metadata.version,
        };
      } catch (error) {
        throw toBridgeError(error);
      }
    },
    async join(request, call = {}) {
      const token =
        request.token ??
        (settings.getToken ? await settings.getToken(request.userId, request.roomName) : "");
      const joinRequest = { ...request, token };
      const routing: SessionRouting = {
        pick: () => router.pick(request.userId),
        markDown: (endpoint) => router.markDown(endpoint),
      };
      // The user's bridge; one that does not answer is passed over for the next-ranked.
      await joinOnAnsweringBridge(routing, joinRequest, call.signal);
      const session = openSession(routing, joinRequest, settings, (closed) =>
        sessions.delete(closed),
      );
      sessions.add(session);
      return session;
    },
    async close() {
      await Promise.all([...sessions].map((session) => session.leave("client closed")));
      sessions.clear();
    },
  };
}
