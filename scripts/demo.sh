#!/usr/bin/env bash
# `npm run demo`: simulated glasses, the bridge with a local livekit-server, and a small
# cloud app built on @mentra/bridge-client. Installs and builds what is missing first.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/bootstrap.sh
turbo run build --filter=@mentra/demo... --output-logs=errors-only >&2
exec node apps/demo/dist/main.js "$@"
