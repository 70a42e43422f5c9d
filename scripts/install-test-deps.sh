#!/usr/bin/env bash
# Installs the real peers the tests drive (all from Debian): Chromium for browser tests, SIPp,
# baresip and Kamailio for SIP interop, ffmpeg/sox/espeak-ng for audio, iproute2/util-linux for the
# loopback-only network namespace. Needs root; prints the command otherwise.
set -euo pipefail
packages=(chromium sip-tester baresip-core kamailio ffmpeg sox libsox-fmt-all espeak-ng iproute2 util-linux procps)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "test peers installed"; exit 0; }
if [ "$(id -u)" != 0 ]; then
  echo "missing test packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 -qq update
apt-get -o DPkg::Lock::Timeout=600 -qq -y install --no-install-recommends "${missing[@]}" >/dev/null
echo "installed: ${missing[*]}"
