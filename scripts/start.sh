#!/usr/bin/env bash
# `npm start`: the bridge on port 9090 (BRIDGE_PORT), with an embedded
# livekit-server in dev mode unless LIVEKIT_URL points elsewhere. Installs and
# builds what is missing first. Arguments go to the bridge (`npm start -- --help`).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/bootstrap.sh
turbo run build --filter=@mentra/livekit-bridge... --output-logs=errors-only >&2
# The Node flags every launch of the bridge uses: apps/bridge/node-flags.json.
exec node --max-semi-space-size=1 apps/bridge/dist/main.js "$@"
