import { defineConfig } from "vitest/config";

/**
 * Settings every package's vitest config starts from: the default reporter for
 * people, and a JSON report that `scripts/test.sh` sums into one closing line.
 */
export const sharedTestConfig = defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    reporters: ["default", ["json", { outputFile: ".test-results.json" }]],
  },
});
