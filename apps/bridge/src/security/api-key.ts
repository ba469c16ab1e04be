import { createHash, timingSafeEqual } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { LiveKitBridge } from "@mentra/bridge-proto";
import { type Logger, silentLogger } from "../logger.js";
import { requestFields } from "../observability/request-context.js";
import { callerKey, isLoopbackAddress } from "./caller.js";

/** Services every caller may use without the key: probes and tools must always work. */
const OPEN_SERVICES: ReadonlySet<string> = new Set([
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

/** Options of {@link createApiKeyInterceptor}. */
export interface ApiKeyOptions {
  /** The key callers send as `authorization: Bearer <key>`. */
  readonly apiKey: string;
  /** Refused calls are logged here at debug level (never with the key). */
  readonly logger?: Logger;
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}

/** Whether an RPC is open without the key: health, reflection and HealthCheck. */
export function isOpenProcedure(service: string, method: string): boolean {
  return (
    OPEN_SERVICES.has(service) || (service === LiveKitBridge.typeName && method === "HealthCheck")
  );
}

/**
 * Requires `authorization: Bearer <key>` on every RPC but health and reflection; a missing
 * or wrong key is Unauthenticated. Keys are compared as SHA-256 digests with
 * timingSafeEqual, so neither the key's content nor its length leaks through timing.
 */
export function createApiKeyInterceptor(options: ApiKeyOptions): Interceptor {
  const expected = digest(options.apiKey);
  const logger = options.logger ?? silentLogger;
  return (next) => (req) => {
    if (isOpenProcedure(req.service.typeName, req.method.name)) return next(req);
    const header = req.header.get("authorization");
    const procedure = `${req.service.typeName}/${req.method.name}`;
    if (header === null) {
      logger.debug("refused a call without an API key", {
        ...requestFields(req.contextValues),
        procedure,
      });
      throw new ConnectError(
        "missing authorization header: send `authorization: Bearer <BRIDGE_API_KEY>`",
        Code.Unauthenticated,
      );
    }
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match?.[1] === undefined || !timingSafeEqual(digest(match[1]), expected)) {
      logger.debug("refused a call with a wrong API key", {
        ...requestFields(req.contextValues),
        procedure,
        authorization: header,
      });
      throw new ConnectError("invalid API key", Code.Unauthenticated);
    }
    req.contextValues.set(callerKey, { ...req.contextValues.get(callerKey), authenticated: true });
    return next(req);
  };
}

/** Whether an address only this machine can reach (loopback). */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || isLoopbackAddress(host);
}
