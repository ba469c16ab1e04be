import { loadConfig } from "../../src/config.js";
import { silentLogger } from "../../src/logger.js";
import type { BridgeRoutesOptions } from "../../src/rpc/routes.js";
import { SessionRegistry } from "../../src/session/registry.js";

/**
 * Route options for tests that never reach LiveKit: a registry with the default
 * settings pointed at a closed loopback port and no key to mint with.
 */
export function offlineRoutes(): Pick<
  BridgeRoutesOptions,
  "registry" | "maxChunkBytes" | "logger"
> {
  const config = loadConfig({});
  const registry = new SessionRegistry({
    config,
    livekit: { url: "ws://127.0.0.1:9", apiKey: undefined, apiSecret: undefined },
    logger: silentLogger,
  });
  return { registry, maxChunkBytes: config.maxChunkBytes, logger: silentLogger };
}
