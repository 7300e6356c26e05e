#!/usr/bin/env bash
# Installs the Debian packages the tests need ("peers": real proxies/servers
# such as haproxy) when they are missing. Idempotent: does nothing (and does not
# touch apt) when everything is already installed.
#
# Usage: eng/install-peers.sh [PKG...]     (default: the DEFAULT_PEERS list)
#
# Package maintainer scripts are prevented from starting services (temporary
# /usr/sbin/policy-rc.d returning 101); tests start their own instances.
set -euo pipefail

DEFAULT_PEERS=(haproxy nginx libnginx-mod-stream curl postfix swaks dovecot-imapd dovecot-pop3d unbound dnsdist dnsperf pdns-recursor)

if [[ $# -gt 0 ]]; then
  PEERS=("$@")
else
  PEERS=("${DEFAULT_PEERS[@]}")
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  fi
fi

missing=()
for pkg in "${PEERS[@]}"; do
  # "dpkg -s" succeeds for removed packages whose config files remain: ask for the installed state.
  if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-peers: already installed: ${PEERS[*]}"
  exit 0
fi

if [[ "$(id -u)" -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
  echo "install-peers: missing packages (${missing[*]}) and not root, and sudo is not available." >&2
  exit 1
fi

echo "install-peers: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive

POLICY_RC=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
  if [[ $created_policy -eq 1 ]]; then
    "${SUDO[@]}" rm -f "$POLICY_RC" || true
  fi
}
trap cleanup EXIT

if [[ ! -e "$POLICY_RC" ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY_RC" >/dev/null
  "${SUDO[@]}" chmod 0755 "$POLICY_RC"
  created_policy=1
fi

for pkg in "${missing[@]}"; do
  if [[ "$pkg" == "postfix" ]]; then
    "${SUDO[@]}" debconf-set-selections <<'DEBCONF'
postfix postfix/main_mailer_type select No configuration
postfix postfix/mailname string localhost
DEBCONF
  fi
done

"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

# Stop any service that was started anyway (tests run their own instances).
for pkg in "${missing[@]}"; do
  case "$pkg" in
    haproxy|nginx|postfix|unbound|dnsdist)
      "${SUDO[@]}" service "$pkg" stop >/dev/null 2>&1 || true
      ;;
    pdns-recursor)
      "${SUDO[@]}" service pdns-recursor stop >/dev/null 2>&1 || true
      ;;
    dovecot-*)
      "${SUDO[@]}" service dovecot stop >/dev/null 2>&1 || true
      ;;
  esac
done

echo "install-peers: done"
