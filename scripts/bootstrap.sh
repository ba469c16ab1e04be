#!/usr/bin/env bash
# Installs everything the project needs, idempotently: a pinned pnpm (corepack's
# fails on our machines), the workspace dependencies from the lockfile, and the
# pinned livekit-server and grpcurl built from the Go module proxy.
source "$(dirname "$0")/lib.sh"

ensure_pnpm() {
  if [[ -x "$PNPM_HOME_DIR/node_modules/.bin/pnpm" ]]; then return; fi
  log "installing pnpm@$PNPM_VERSION into $PNPM_HOME_DIR"
  mkdir -p "$PNPM_HOME_DIR"
  npm install --prefix "$PNPM_HOME_DIR" --no-audit --no-fund --loglevel=error "pnpm@$PNPM_VERSION" >&2
}

# go_tool NAME MODULE@VERSION DEST: builds a Go binary once per version.
go_tool() {
  local name="$1" module="$2" dest="$3"
  if [[ -x "$dest" ]]; then return; fi
  command -v go >/dev/null || { log "Go is required to build $name (go install $module)"; exit 1; }
  log "building $name from the Go module proxy: $module (cached in $(dirname "$dest"))"
  local tmp
  tmp="$(mktemp -d)"
  (cd "$tmp" && GOBIN="$tmp/bin" GOFLAGS=-trimpath go install "$module") >&2
  mkdir -p "$(dirname "$dest")"
  mv "$tmp/bin/"* "$dest"
  rm -rf "$tmp"
}

ensure_pnpm
if [[ ! -f "$ROOT/node_modules/.modules.yaml" || "$ROOT/pnpm-lock.yaml" -nt "$ROOT/node_modules/.modules.yaml" ]]; then
  log "installing workspace dependencies (pnpm install --frozen-lockfile)"
  (cd "$ROOT" && pnpm install --frozen-lockfile --reporter=append-only) >&2
fi
go_tool livekit-server "github.com/livekit/livekit-server/cmd/server@$LIVEKIT_SERVER_VERSION" "$LIVEKIT_SERVER_BIN"
go_tool grpcurl "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION" "$GRPCURL_BIN"
# Our own Go helpers, rebuilt when their source changes (Go's build cache makes that
# cheap): tools/netdelay (the delay fault, for kernels without netem) and
# tools/k8s-check (offline validation of deploy/k8s).
own_tool() {
  local name="$1" dest="$2"
  if [[ -x "$dest" && -z "$(find "$ROOT/tools/$name" -newer "$dest" -type f)" ]]; then return; fi
  command -v go >/dev/null || { log "Go is required to build tools/$name"; exit 1; }
  log "building tools/$name"
  mkdir -p "$(dirname "$dest")"
  (cd "$ROOT/tools/$name" && GOFLAGS=-trimpath go build -o "$dest" .) >&2
}
own_tool netdelay "$NETDELAY_BIN"
own_tool k8s-check "$K8S_CHECK_BIN"
