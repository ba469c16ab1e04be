import type { LiveKitRig, StartLiveKitOptions } from "@mentra/livekit-rig";
import type { Config } from "./config.js";
import { type Logger, silentLogger } from "./logger.js";

/**
 * The LiveKit server the bridge joins rooms on, resolved once at start. JoinRoom uses
 * `url` when a request names none, and the key and secret to mint tokens when it must.
 */
export interface LiveKitRuntime {
  /** WebSocket URL of the LiveKit server (ws:// or wss://, or http(s):// as configured). */
  readonly url: string;
  /** API key; undefined when an external LiveKit was configured without one. */
  readonly apiKey: string | undefined;
  /** API secret paired with `apiKey`. */
  readonly apiSecret: string | undefined;
  /** True when the bridge started this LiveKit itself (LIVEKIT_URL was empty). */
  readonly embedded: boolean;
  /** Stops the embedded LiveKit; a no-op for an external one. Idempotent. */
  close(): Promise<void>;
}

/** Starts a livekit-server; the signature of `startLiveKit` from `@mentra/livekit-rig`. */
export type StartRig = (options: StartLiveKitOptions) => Promise<LiveKitRig>;

/** Options of {@link startLiveKitRuntime}. */
export interface LiveKitRuntimeOptions {
  /** The bridge's settings; `livekitUrl` decides between external and embedded. */
  readonly config: Pick<
    Config,
    "livekitUrl" | "livekitApiKey" | "livekitApiSecret" | "livekitEmbeddedIsolate"
  >;
  /** Where the embedded LiveKit's start is logged. */
  readonly logger?: Logger;
  /** Replaces the rig's `startLiveKit`, for tests. */
  readonly startRig?: StartRig;
}

// Loaded only when needed: a bridge pointed at an external LiveKit never loads the
// development rig (nor needs it built).
const importStartRig: StartRig = async (options) => {
  const { startLiveKit } = await import("@mentra/livekit-rig");
  return startLiveKit(options);
};

/**
 * Resolves the LiveKit server to use: the configured LIVEKIT_URL, or, when it is empty,
 * an embedded livekit-server started through `@mentra/livekit-rig`. Close the bridge
 * server before the runtime, so no session outlives its LiveKit.
 */
export async function startLiveKitRuntime(options: LiveKitRuntimeOptions): Promise<LiveKitRuntime> {
  const { config } = options;
  const logger = options.logger ?? silentLogger;
  if (config.livekitUrl !== undefined) {
    const { livekitUrl: url, livekitApiKey: apiKey, livekitApiSecret: apiSecret } = config;
    return { url, apiKey, apiSecret, embedded: false, close: () => Promise.resolve() };
  }
  const startRig = options.startRig ?? importStartRig;
  logger.info("LIVEKIT_URL is empty, starting the embedded LiveKit", {
    isolate: config.livekitEmbeddedIsolate,
  });
  const rig = await startRig({
    isolate: config.livekitEmbeddedIsolate,
    // Its warnings and errors join the bridge's log, scrubbed like every other line.
    onLogLine: (line) => logger.warn("livekit-server", { line }),
  });
  logger.info("embedded LiveKit ready", { url: rig.url, namespace: rig.namespace });
  const { url, apiKey, apiSecret } = rig;
  return { url, apiKey, apiSecret, embedded: true, close: () => rig.close() };
}
