#!/usr/bin/env node
// Bundles the bridge (src/main.ts) into dist/main.js, after tsc has built dist/: the
// bridge must answer HealthCheck within 300 ms of a restart, and loading some 200 ES
// module files one by one took a third of that. What the bridge loads only after it
// listens (rtc-node, livekit-server-sdk, the embedded LiveKit rig) stays in separate
// chunks or packages and loads as before. Files that locate themselves (native addons,
// the workspace packages reading their own package.json) stay external.
import { readFileSync, rmSync } from "node:fs";
import { build } from "esbuild";

const root = new URL("..", import.meta.url);
const { version } = JSON.parse(readFileSync(new URL("package.json", root), "utf8"));

// Chunk names carry a hash: without this, every build would leave the last ones behind.
rmSync(new URL("dist/chunks", root), { recursive: true, force: true });

await build({
  absWorkingDir: root.pathname,
  entryPoints: ["src/main.ts"],
  outdir: "dist",
  entryNames: "[name]",
  chunkNames: "chunks/[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  sourcemap: true,
  external: [
    "@livekit/rtc-node",
    "@mentra/livekit-native-logs",
    "@mentra/livekit-rig",
    "livekit-server-sdk",
    "mpg123-decoder",
  ],
  // CommonJS dependencies (pino, prom-client) call require; ES module output has none.
  banner: {
    js: 'import { createRequire as __bridgeCreateRequire } from "node:module";\nconst require = __bridgeCreateRequire(import.meta.url);',
  },
  // version.ts reads ../package.json relative to itself, which a chunk is not.
  define: { __BRIDGE_VERSION__: JSON.stringify(version) },
  logLevel: "warning",
});
