#!/usr/bin/env bash
# Installs the Debian packages the test suite uses as real peers (DNS, XMPP, SIP tools).
# Idempotent: installs only what is missing; does nothing when everything is present.
set -euo pipefail

packages=(
  bind9-dnsutils knot-dnsutils ldnsutils unbound knot nsd bind9 bind9-utils dnsperf
  prosody python3-slixmpp go-sendxmpp
  kamailio kamailio-websocket-modules sip-tester baresip ejabberd
  chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-peers: all ${#packages[@]} peer packages present"
  exit 0
fi

echo "install-peers: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
# Services Debian would start on install (bind9, knot, nsd, unbound, prosody, kamailio) must not
# grab default ports: tests start their own instances with explicit configs on 127.0.0.1.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo_cmd[@]}" tee "$policy" >/dev/null
  "${sudo_cmd[@]}" chmod 755 "$policy"
  created_policy=1
fi
trap '[ "$created_policy" = 1 ] && "${sudo_cmd[@]}" rm -f "$policy"' EXIT
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-peers: done"
