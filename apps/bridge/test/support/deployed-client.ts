import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { REPO_ROOT } from "./tools.js";

// The deployed cloud's client: grpc-js with proto-loader, snake_case field names.

/** proto-loader as the deployed cloud sets it up (keepCase), on the repository's proto/. */
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
export type ClientClass = new (address: string, credentials: grpc.ChannelCredentials) => AnyClient;

/** The client class of `service` (dotted, e.g. "grpc.health.v1.Health") from `file`. */
export function loadClientClass(file: string, service: string): ClientClass {
  const definition = protoLoader.loadSync(file, DEPLOYED_LOADER_OPTIONS);
  const loaded = grpc.loadPackageDefinition(definition);
  return service
    .split(".")
    .reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], loaded) as ClientClass;
}

/** A client of `service` from `file` for `target`, without TLS. */
export function clientOf(file: string, service: string, target: string): AnyClient {
  const ClientClass = loadClientClass(file, service);
  return new ClientClass(target, grpc.credentials.createInsecure());
}

/** One unary call with a deadline, as a promise. */
export function unary<T>(client: AnyClient, method: string, request: object, timeoutMs = 5_000) {
  return new Promise<T>((resolve, reject) => {
    client[method](request, { deadline: Date.now() + timeoutMs }, (error: Error | null, res: T) =>
      error === null ? resolve(res) : reject(error),
    );
  });
}
