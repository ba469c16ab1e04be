import type { LiveKitCredentials } from "./token.js";

/**
 * The environment a bridge started on this machine needs, on top of the caller's own: it
 * listens on loopback at `port`, joins rooms on `livekit`, may fetch playback audio from
 * loopback, and logs warnings and worse.
 */
export function localBridgeEnv(livekit: LiveKitCredentials, port: number): Record<string, string> {
  return {
    BRIDGE_HOST: "127.0.0.1",
    BRIDGE_PORT: String(port),
    LIVEKIT_URL: livekit.url,
    LIVEKIT_API_KEY: livekit.apiKey,
    LIVEKIT_API_SECRET: livekit.apiSecret,
    PLAYBACK_ALLOW_HOSTS: "127.0.0.1",
    LOG_LEVEL: "warn",
  };
}
