# syntax=docker/dockerfile:1
# The bridge as a container: built with the workspace's pinned pnpm on the current Node LTS,
# run as a non-root user from a slim image holding only the bridge and its production
# dependencies. No Docker engine runs on our machines: see "Containers" in README.md.
# `--target cloud` instead builds the drop-in for the MentraOS cloud's image: the
# self-contained livekit-bridge executable (docs/executable.md) where the cloud's start.sh
# runs `./livekit-bridge &`, on the cloud's Bun image with no Node in it.
ARG NODE_VERSION=24.21.0
ARG BUN_VERSION=1.3.3

FROM node:${NODE_VERSION}-slim AS build
ARG PNPM_VERSION=10.34.8
ENV TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1
RUN npm install --global --no-audit --no-fund "pnpm@${PNPM_VERSION}"
WORKDIR /src
# Manifests first, so the dependency layer is reused while only sources change.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json ./
COPY patches patches
COPY packages/proto/package.json packages/proto/
COPY packages/livekit-rig/package.json packages/livekit-rig/
COPY packages/client/package.json packages/client/
COPY packages/test-kit/package.json packages/test-kit/
COPY packages/livekit-native-logs/package.json packages/livekit-native-logs/
COPY packages/pcm/package.json packages/pcm/
COPY apps/bridge/package.json apps/bridge/
RUN pnpm install --frozen-lockfile --filter "@mentra/livekit-bridge..."
COPY packages packages
COPY apps/bridge apps/bridge
RUN pnpm --filter "@mentra/livekit-bridge..." run build \
 && pnpm --filter @mentra/livekit-bridge deploy --prod --legacy /out

# The executable: this stage's Node (the pinned Node 24, an official build) with the bundled
# bridge and rtc-node's addon injected, as `npm run build:binary` makes it.
FROM build AS executable
RUN node apps/bridge/scripts/build-executable.mjs --node /usr/local/bin/node \
      --out apps/bridge/dist-exe/livekit-bridge \
 && ./apps/bridge/dist-exe/livekit-bridge --help > /dev/null

# The cloud's image with our bridge in place of the Go binary: the same folder and name its
# start.sh expects, the same settings (LIVEKIT_GRPC_SOCKET, LIVEKIT_URL, LIVEKIT_API_KEY,
# LIVEKIT_API_SECRET, LOG_LEVEL). The cloud's own Dockerfile copies its app and start.sh on top.
FROM oven/bun:${BUN_VERSION}-debian AS cloud
WORKDIR /app
COPY --from=executable /src/apps/bridge/dist-exe/livekit-bridge ./livekit-bridge
ENV LIVEKIT_GRPC_SOCKET=/tmp/livekit-bridge.sock
CMD ["./livekit-bridge"]

# The default target: the bridge on Node, as a service of its own.
FROM node:${NODE_VERSION}-slim AS runtime
ENV NODE_ENV=production BRIDGE_HOST=0.0.0.0 BRIDGE_PORT=9090
WORKDIR /app
COPY --from=build --chown=root:root /out /app
# The image's unprivileged user; the app files stay owned by root, read-only to it.
USER node
EXPOSE 9090
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.BRIDGE_PORT || 9090) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "--max-semi-space-size=1", "dist/main.js"]
