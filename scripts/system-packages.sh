# The system tools `npm test` needs, and how a fresh machine gets them. Sourced by lib.sh
# (and by its unit test with a fake PATH): defines functions, runs nothing.
#
#   e2e rig: ip (iproute2), setpriv (util-linux), sysctl (procps), redis-server (the
#   multi-node LiveKit cluster), nft (nftables) and iptables-legacy (iptables) for the
#   network faults; every run: openssl and curl (TLS and README-command tests).

# "command:debian-package" pairs; the e2e ones are skipped with MENTRA_SKIP_E2E=1.
SYSTEM_TOOLS_ALWAYS="openssl:openssl curl:curl"
SYSTEM_TOOLS_E2E="ip:iproute2 setpriv:util-linux sysctl:procps nft:nftables iptables-legacy:iptables redis-server:redis-server"

# Prints the Debian packages whose command is not on PATH, space-separated.
missing_system_packages() {
  local pairs="$SYSTEM_TOOLS_ALWAYS" pair missing=()
  if [[ "${MENTRA_SKIP_E2E:-}" != "1" ]]; then pairs="$pairs $SYSTEM_TOOLS_E2E"; fi
  for pair in $pairs; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  echo "${missing[*]}"
}

# Decides what to do about the missing packages, printing one line:
#   "ok"                      nothing is missing
#   "install <packages>"      root on Debian (apt-get): install them now
#   "stop <command>"          anything else: the exact command a person must run
system_packages_plan() {
  local missing
  missing="$(missing_system_packages)"
  if [[ -z "$missing" ]]; then
    echo "ok"
  elif [[ "$(id -u)" == "0" ]] && command -v apt-get >/dev/null 2>&1; then
    echo "install $missing"
  elif command -v apt-get >/dev/null 2>&1; then
    echo "stop sudo apt-get update && sudo apt-get install -y $missing"
  else
    echo "stop install the Debian packages $missing (or your system's equivalents), e.g. sudo apt-get install -y $missing"
  fi
}

# Installs what is missing where it can, or stops at once with the command to run.
ensure_system_packages() {
  local plan
  plan="$(system_packages_plan)"
  case "$plan" in
    ok) ;;
    install\ *)
      log "installing ${plan#install } (apt-get, as root)"
      apt-get update -qq
      # shellcheck disable=SC2086 # one word per package
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${plan#install } >&2
      ;;
    stop\ *)
      log "missing system packages; run this, then npm test again:"
      printf '  %s\n' "${plan#stop }" >&2
      exit 1
      ;;
  esac
}
