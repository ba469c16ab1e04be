import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each e2e file starts its own livekit-server; keep them sequential on 2 cores.
    fileParallelism: false,
  },
});
