import { type Client, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { HealthCheckResponse_ServingStatus, LiveKitBridge } from "@mentra/bridge-proto";

/** Wire protocols the bridge speaks on its one port. */
export type BridgeProtocol = "grpc" | "connect" | "grpc-web";

/** Options of {@link createBridgeClient}. */
export interface BridgeClientOptions {
  /** The bridge's base URL, e.g. `http://localhost:9090`. */
  baseUrl: string;
  /** Default "grpc" (HTTP/2), as the deployed cloud calls it. */
  protocol?: BridgeProtocol;
  /** Sent as `authorization: Bearer …` when set. */
  apiKey?: string;
  /** A ready transport (tests, custom sockets); replaces baseUrl and protocol. */
  transport?: Transport;
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
  /** The generated Connect client, for RPCs this wrapper does not cover yet. */
  readonly rpc: Client<typeof LiveKitBridge>;
}

const STATUS: Record<HealthCheckResponse_ServingStatus, BridgeHealth["status"]> = {
  [HealthCheckResponse_ServingStatus.UNKNOWN]: "unknown",
  [HealthCheckResponse_ServingStatus.SERVING]: "serving",
  [HealthCheckResponse_ServingStatus.NOT_SERVING]: "not-serving",
  [HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN]: "service-unknown",
};

function transportFor(options: BridgeClientOptions): Transport {
  if (options.transport) return options.transport;
  const interceptors: Interceptor[] = [];
  const { apiKey } = options;
  if (apiKey) {
    interceptors.push((next) => (req) => {
      req.header.set("authorization", `Bearer ${apiKey}`);
      return next(req);
    });
  }
  const base = { baseUrl: options.baseUrl, interceptors };
  switch (options.protocol ?? "grpc") {
    case "grpc":
      return createGrpcTransport(base);
    case "connect":
      return createConnectTransport({ ...base, httpVersion: "2" });
    case "grpc-web":
      return createGrpcWebTransport({ ...base, httpVersion: "2" });
  }
}

/** Creates a client for the bridge at `options.baseUrl`. */
export function createBridgeClient(options: BridgeClientOptions): BridgeClient {
  const rpc = createClient(LiveKitBridge, transportFor(options));
  return {
    rpc,
    async health(call = {}) {
      const res = await rpc.healthCheck({}, call);
      return {
        status: STATUS[res.status] ?? "unknown",
        activeSessions: res.activeSessions,
        activeStreams: res.activeStreams,
        uptimeSeconds: Number(res.uptimeSeconds),
        version: res.metadata.version,
      };
    },
  };
}
