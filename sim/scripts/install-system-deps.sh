#!/usr/bin/env bash
# Installs the Debian packages that sim needs: Prometheus, which sim runs with
# its own configuration and data directory. Idempotent: packages already
# installed cost one dpkg query and no network access.
set -euo pipefail

packages=(prometheus)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "system packages: already installed (${packages[*]})" >&2
  exit 0
fi

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"

# policy-rc.d exit code 101 tells invoke-rc.d not to start services, so the
# package's own prometheus.service (0.0.0.0:9090) stays stopped; sim starts
# the binary itself on loopback.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
  $sudo chmod +x "$policy"
  created_policy=1
fi
cleanup() { [[ $created_policy == 1 ]] && $sudo rm -f "$policy"; return 0; }
trap cleanup EXIT

echo "system packages: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2

# Some images start services without invoke-rc.d; make sure none is left running.
if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
  $sudo systemctl stop prometheus || true
fi
echo "system packages: installed ${missing[*]}" >&2
