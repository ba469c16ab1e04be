# Shared shell helpers for the project scripts: sourced, never executed.
# Versions pinned here are the single source for every script and for CI.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PNPM_VERSION="10.34.8"
LIVEKIT_SERVER_VERSION="v1.13.5"
GRPCURL_VERSION="v1.9.3"
# Binaries built from the Go module proxy are cached outside the work tree so a
# fresh clone on the same machine reuses them; the version is part of the path.
TOOLS_CACHE="${MENTRA_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mentra-bridge}"
LIVEKIT_SERVER_BIN="$TOOLS_CACHE/livekit-server-$LIVEKIT_SERVER_VERSION/livekit-server"
GRPCURL_BIN="$TOOLS_CACHE/grpcurl-$GRPCURL_VERSION/grpcurl"
PNPM_HOME_DIR="$ROOT/.tools/pnpm-$PNPM_VERSION"
export PATH="$PNPM_HOME_DIR/node_modules/.bin:$PATH"
export LIVEKIT_SERVER_BIN GRPCURL_BIN

log() { printf '\033[1;34m[%s]\033[0m %s\n' "$(basename "$0")" "$*" >&2; }
