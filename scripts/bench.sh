#!/usr/bin/env bash
# `npm run bench`: the bridge process under a ladder of concurrent real-time users (memory,
# CPU, event-loop delay, handles, per-packet latency, gaps and drops), written as JSON,
# Markdown and a PNG plot into --out (default bench-results/). `--help` lists the options.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/bootstrap.sh
turbo run build --filter=@mentra/bench... --output-logs=errors-only >&2
exec node apps/bench/dist/main.js "$@"
