#!/usr/bin/env bash
# `npm run build:binary`: the self-contained livekit-bridge executable for linux-x64, a Node
# single executable application (docs/executable.md), at apps/bridge/dist-exe/livekit-bridge.
# Builds the workspace first (turbo, cached), then apps/bridge/scripts/build-executable.mjs,
# which skips the slow SEA steps when nothing that goes into the executable changed.
# Usage: scripts/build-binary.sh [--no-workspace-build] [output path]
#   --no-workspace-build: dist/ is built already (npm test's build step, the e2e test).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

workspace_build=1
if [[ "${1:-}" == "--no-workspace-build" ]]; then
  workspace_build=0
  shift
fi
out="${1:-$ROOT/apps/bridge/dist-exe/livekit-bridge}"
node24="$(ensure_node24)"
if [[ "$workspace_build" == 1 ]]; then
  turbo run build --filter=@mentra/livekit-bridge... --output-logs=errors-only >&2
fi
node apps/bridge/scripts/build-executable.mjs --node "$node24" --out "$out"
