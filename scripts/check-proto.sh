#!/usr/bin/env bash
# Checks the wire contract: buf lint, buf format, buf breaking against the
# committed baseline image, and that packages/proto holds exactly what
# `buf generate` makes from proto/. Usage: check-proto.sh [REPO_ROOT]
# (a root other than this checkout is how the contract test proves that the
# checks fail on a broken copy). Needs buf and protoc-gen-es on PATH.
set -euo pipefail
ROOT="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
cd "$ROOT"

step() { printf '[check-proto] %s\n' "$*" >&2; }

step "buf lint"
buf lint
step "buf format --diff --exit-code"
buf format --diff --exit-code
step "buf breaking --against proto/baseline/v1.binpb"
if ! buf breaking --against proto/baseline/v1.binpb; then
  step "FAIL: proto/ is not wire-compatible with the deployed contract (only additions are allowed)"
  exit 1
fi

step "codegen freshness: buf generate into a scratch folder and compare with packages/proto/src/gen"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
buf generate --output "$scratch"
if ! diff -r "$scratch/packages/proto/src/gen" packages/proto/src/gen; then
  step "FAIL: packages/proto/src/gen is stale or was edited by hand; run 'pnpm generate' and commit the result"
  exit 1
fi
step "ok"
