import { defineConfig, mergeConfig } from "vitest/config";
import { sharedTestConfig } from "../../vitest.shared.js";

export default mergeConfig(
  sharedTestConfig,
  defineConfig({
    test: {
      testTimeout: 30_000,
      hookTimeout: 60_000,
      // Each e2e file starts its own livekit-server; keep them sequential on 2 cores.
      fileParallelism: false,
    },
  }),
);
