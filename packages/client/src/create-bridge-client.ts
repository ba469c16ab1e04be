import * as net from "node:net";
import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { HealthCheckResponse_ServingStatus, LiveKitBridge } from "@mentra/bridge-proto";
import type { BackoffOptions } from "./backoff.js";
import { type DiscoverOptions, DnsDiscovery } from "./dns-discovery.js";
import { EndpointRouter } from "./endpoint-router.js";
import { type BridgeError, toBridgeError } from "./errors.js";
import { Listeners } from "./listeners.js";
import type { JoinRequest } from "./rpc-calls.js";
import { openSession } from "./session/open-session.js";
import { joinOnAnsweringBridge, type SessionRouting } from "./session/routing.js";
import type { BridgeSession, SessionSettings, TokenSource } from "./session/types.js";
import { WindowedSessionManager } from "./windowed-session-manager.js";

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
  /**
   * Finds the bridges by DNS instead of `endpoints`: a name with one A or AAAA record per
   * bridge, as a Kubernetes headless Service has one per ready pod, e.g.
   * `{ host: "bridge-headless.mentra.svc.cluster.local", port: 9090 }` (fully qualified:
   * no search list is applied). Each address becomes an endpoint `http://10.0.0.5:9090`
   * (`http://[fd00::5]:9090` for IPv6), ranked per user as with `endpoints`. The name is
   * looked up when the client is created and again every `refreshMs` (default 10 s); when the set changes, sessions move
   * at their next reconnect and the client emits `endpoints`. A lookup that fails or finds
   * nothing keeps the last set and emits `error`. The first join() waits for the first
   * answer (up to `timeoutMs`, default 5 s) and otherwise rejects with a BridgeError
   * `unavailable` (Code.Unavailable) naming the host. close() stops the refreshes.
   * Not with baseUrl or endpoints.
   */
  readonly discover?: DiscoverOptions;
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
  /**
   * Mints a fresh LiveKit token whenever a session must re-join. For a handover
   * (`context.handover`, a draining bridge) the identity must differ from the one in use
   * (e.g. add a suffix), so both bridges can share the room while the session moves;
   * without `getToken` the bridge mints one that does.
   */
  readonly getToken?: TokenSource;
  /**
   * How long a handover looks for where the new bridge's room audio continues the old
   * one's before joining them by receive time (default 5000 ms; a loaded bridge may lag
   * the other by hundreds of ms, and receive times are then no guide). While the old
   * bridge still delivers sound (not silence) it looks on, until that stream ends, for up
   * to three times as long: a lagging new bridge catches up rather than being joined by
   * its late receive times, which would repeat or skip audio.
   */
  readonly spliceTimeoutMs?: number;
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

/** Events of a client; subscribe with {@link BridgeClient.on}. */
export interface BridgeClientEvents {
  /** DNS discovery found a new set of bridges (the first included); sessions move at their next reconnect. */
  endpoints: (info: {
    endpoints: readonly string[];
    added: readonly string[];
    removed: readonly string[];
  }) => void;
  /** A problem that did not stop the client: a DNS lookup failed or found no address (the last set is kept). */
  error: (error: BridgeError) => void;
}

/** The typed client of the MentraOS LiveKit bridge. */
export interface BridgeClient {
  /** Asks the bridge whether it serves, with its live figures. */
  health(options?: CallOptions): Promise<BridgeHealth>;
  /** Joins a room for a user and returns the live session. Rejects with a BridgeError. */
  join(request: JoinRequest, options?: { signal?: AbortSignal }): Promise<BridgeSession>;
  /** Leaves every session this client opened, stops DNS refreshes and drops the client's listeners. */
  close(): Promise<void>;
  /**
   * Moves every session that is not on its best-ranked bridge there, without a gap (see
   * {@link BridgeSession.rebalance}): after bridges were added, only the users that rank a
   * new one first move. Returns how many moves started.
   */
  rebalance(): number;
  /** Subscribes to an event of the client; returns the unsubscribe function. */
  on<K extends keyof BridgeClientEvents>(event: K, listener: BridgeClientEvents[K]): () => void;
  /** The bridges users are ranked over now (empty until DNS discovery first answers). */
  readonly endpoints: readonly string[];
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
  const url = socketPath === undefined ? baseUrl : "http://localhost";
  const http2 = {
    baseUrl: url,
    interceptors,
    httpVersion: "2" as const,
    // One connection for all of this client's sessions, with a connection window they fit in.
    sessionManager: new WindowedSessionManager(
      url,
      { pingIntervalMs: keepalive, pingTimeoutMs: keepalive },
      socketPath === undefined ? {} : { createConnection: () => net.connect(socketPath) },
    ),
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

type Router = EndpointRouter<Client<typeof LiveKitBridge>>;

/**
 * Creates a client for the bridge at `options.baseUrl` (or `options.socketPath`), or for
 * several (`endpoints`, or found by DNS with `discover`).
 */
export function createBridgeClient(options: BridgeClientOptions): BridgeClient {
  if (options.discover !== undefined && (options.endpoints ?? options.baseUrl) !== undefined) {
    throw new RangeError("createBridgeClient takes discover, or baseUrl/endpoints, not both");
  }
  const endpoints = options.endpoints ?? (options.baseUrl === undefined ? [] : [options.baseUrl]);
  if (endpoints.length === 0 && options.transport === undefined && !options.discover) {
    throw new RangeError("createBridgeClient needs baseUrl, endpoints, discover or transport");
  }
  const listeners = new Listeners<BridgeClientEvents>();
  // One transport per endpoint, kept while the endpoint is in the set.
  const transports = new Map<string, Transport>();
  const transportOf = (endpoint: string): Transport => {
    let transport = transports.get(endpoint);
    if (transport === undefined) {
      transport = transportFor(options, endpoint);
      transports.set(endpoint, transport);
    }
    return transport;
  };
  const newRouter = (list: readonly string[]): Router =>
    new EndpointRouter({
      endpoints: list,
      connect: (endpoint) => createClient(LiveKitBridge, transportOf(endpoint)),
      ...(options.endpointDownMs === undefined ? {} : { downForMs: options.endpointDownMs }),
    });
  // With discovery the router exists from the first answer on; join() waits for it.
  let router: Router | undefined =
    options.discover === undefined
      ? newRouter(endpoints.length === 0 ? [""] : endpoints)
      : undefined;
  const routerNow = (): Router => {
    if (router === undefined) throw new RangeError("no bridge endpoint yet");
    return router;
  };
  const discovery =
    options.discover === undefined
      ? undefined
      : new DnsDiscovery(options.discover, {
          changed(found, previous) {
            if (router === undefined) router = newRouter(found);
            else router.setEndpoints(found);
            const kept = new Set(found);
            for (const endpoint of [...transports.keys()]) {
              if (!kept.has(endpoint)) transports.delete(endpoint);
            }
            const before = new Set(previous);
            listeners.emit("endpoints", {
              endpoints: found,
              added: found.filter((endpoint) => !before.has(endpoint)),
              removed: previous.filter((endpoint) => !kept.has(endpoint)),
            });
          },
          failed(error) {
            listeners.emit("error", error);
          },
        });
  // The raw client: the first bridge's. With discovery, calls wait for the first answer
  // and go to the first endpoint of the set at the time of the call.
  const rpc =
    discovery === undefined
      ? routerNow().clientOf(routerNow().all[0] ?? "")
      : createClient(
          LiveKitBridge,
          firstEndpointTransport(discovery, () => routerNow().all[0] ?? "", transportOf),
        );
  discovery?.start();
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
    ...(options.spliceTimeoutMs === undefined ? {} : { spliceTimeoutMs: options.spliceTimeoutMs }),
  };
  return {
    rpc,
    get endpoints() {
      if (discovery !== undefined) return discovery.endpoints;
      return endpoints.length === 0 ? [] : routerNow().all; // none named for a bare transport
    },
    on(event, listener) {
      return listeners.on(event, listener);
    },
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
      if (discovery !== undefined) {
        try {
          await discovery.ready(call.signal);
        } catch (error) {
          throw toBridgeError(error);
        }
      }
      const token =
        request.token ??
        (settings.getToken ? await settings.getToken(request.userId, request.roomName) : "");
      const joinRequest = { ...request, token };
      const routing: SessionRouting = {
        pick: () => routerNow().pick(request.userId),
        markDown: (endpoint) => routerNow().markDown(endpoint),
        hasAlternative: (endpoint) => routerNow().all.some((other) => other !== endpoint),
      };
      // The user's bridge; one that does not answer is passed over for the next-ranked.
      await joinOnAnsweringBridge(routing, joinRequest, call.signal);
      const session = openSession(routing, joinRequest, settings, (closed) =>
        sessions.delete(closed),
      );
      sessions.add(session);
      return session;
    },
    rebalance() {
      let started = 0;
      for (const session of sessions) if (session.rebalance()) started++;
      return started;
    },
    async close() {
      discovery?.close();
      await Promise.all([...sessions].map((session) => session.leave("client closed")));
      sessions.clear();
      listeners.clear();
    },
  };
}

/**
 * A transport that waits for discovery's first answer, then sends each call to the
 * transport of the set's first endpoint at that time.
 */
function firstEndpointTransport(
  discovery: DnsDiscovery,
  first: () => string,
  transportOf: (endpoint: string) => Transport,
): Transport {
  return {
    async unary(method, signal, timeoutMs, header, input, contextValues) {
      await discovery.ready(signal);
      return transportOf(first()).unary(method, signal, timeoutMs, header, input, contextValues);
    },
    async stream(method, signal, timeoutMs, header, input, contextValues) {
      await discovery.ready(signal);
      return transportOf(first()).stream(method, signal, timeoutMs, header, input, contextValues);
    },
  };
}
