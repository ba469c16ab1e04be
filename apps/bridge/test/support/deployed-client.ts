import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { REPO_ROOT } from "./tools.js";

/** proto-loader as the deployed cloud loads the bridge's proto (CONTRACT.md). */
export const DEPLOYED_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [path.join(REPO_ROOT, "proto")],
};

// biome-ignore lint/suspicious/noExplicitAny: proto-loader messages and clients are untyped
export type Loose = Record<string, any>;
export type AnyClient = grpc.Client & Loose;

/**
 * A grpc-js client of `service` (e.g. "mentra.livekit.bridge.LiveKitBridge") from `file`
 * under proto/, the way the deployed cloud builds it. `target` is grpc-js syntax:
 * "127.0.0.1:9090" or "unix:/tmp/livekit-bridge.sock".
 */
export function deployedClient(
  target: string,
  file = "mentra/livekit/bridge/bridge.proto",
  service = "mentra.livekit.bridge.LiveKitBridge",
  channelOptions: grpc.ChannelOptions = {},
): AnyClient {
  const definition = protoLoader.loadSync(file, DEPLOYED_LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition);
  const ctor = service
    .split(".")
    .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], loaded) as new (
    address: string,
    credentials: grpc.ChannelCredentials,
    options: grpc.ChannelOptions,
  ) => AnyClient;
  return new ctor(target, grpc.credentials.createInsecure(), channelOptions);
}

/** One unary call with a deadline; rejects with the grpc-js ServiceError. */
export function unary<T>(
  client: AnyClient,
  method: string,
  request: object,
  timeoutMs = 5_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + timeoutMs }, (error: Error | null, res: T) =>
      error === null ? resolve(res) : reject(error),
    );
  });
}
