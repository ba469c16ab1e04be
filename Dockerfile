# syntax=docker/dockerfile:1
# The bridge as a container: built with the workspace's pinned pnpm on the current Node LTS,
# run as a non-root user from a slim image holding only the bridge and its production
# dependencies. No Docker engine runs on our machines: see "Containers" in README.md.
ARG NODE_VERSION=24.21.0

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
COPY apps/bridge/package.json apps/bridge/
RUN pnpm install --frozen-lockfile --filter "@mentra/livekit-bridge..."
COPY packages packages
COPY apps/bridge apps/bridge
RUN pnpm --filter "@mentra/livekit-bridge..." run build \
 && pnpm --filter @mentra/livekit-bridge deploy --prod --legacy /out

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
CMD ["node", "dist/main.js"]
