#!/usr/bin/env bash
# `npm run bench`: reserved for the benchmark suite (memory, CPU and latency per
# session, with a plot). It is not written yet; see the benchmark issue.
source "$(dirname "$0")/lib.sh"
log "the benchmark suite is not implemented yet"
exit 1
