#!/usr/bin/env bash
# `npm run build:binary`: the self-contained livekit-bridge executable for linux-x64, a Node
# single executable application (docs/executable.md), at apps/bridge/dist-exe/livekit-bridge.
# Builds the workspace first (turbo, cached), then apps/bridge/scripts/build-executable.mjs,
# which skips the slow SEA steps when nothing that goes into the executable changed.
# Usage: scripts/build-binary.sh [output path]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

out="${1:-$ROOT/apps/bridge/dist-exe/livekit-bridge}"
node24="$(ensure_node24)"
turbo run build --filter=@mentra/livekit-bridge... --output-logs=errors-only >&2
node apps/bridge/scripts/build-executable.mjs --node "$node24" --out "$out"
