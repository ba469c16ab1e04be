#!/usr/bin/env bash
# `npm run soak`: a fixed load for --minutes (RSS, RSS−heap, handles every 10 s, slope in
# MB/hour), then --cycles join/leave cycles that must return RSS and handles to the
# baseline. Writes soak.json, soak.md and soak.png into --out. `--help` lists the options.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/bootstrap.sh
turbo run build --filter=@mentra/bench... --output-logs=errors-only >&2
exec node apps/bench/dist/soak-main.js "$@"
