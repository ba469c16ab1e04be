import { describe, expect, it } from "vitest";
import { localBridgeEnv } from "../src/bridge-env.js";

describe("localBridgeEnv", () => {
  it("points a loopback bridge at the given port and LiveKit", () => {
    const env = localBridgeEnv(
      { url: "ws://127.0.0.1:7880", apiKey: "devkey", apiSecret: "secret" },
      50123,
    );
    expect(env).toEqual({
      BRIDGE_HOST: "127.0.0.1",
      BRIDGE_PORT: "50123",
      LIVEKIT_URL: "ws://127.0.0.1:7880",
      LIVEKIT_API_KEY: "devkey",
      LIVEKIT_API_SECRET: "secret",
      PLAYBACK_ALLOW_HOSTS: "127.0.0.1",
      LOG_LEVEL: "warn",
    });
  });
});
