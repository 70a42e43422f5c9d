#!/usr/bin/env bash
# Builds the project's N-API addons (currently the libopus binding used by the MCU audio mixer) with
# the system C compiler against Node's own node_api.h. No node-gyp: the addon is one C file and links
# one Debian library, so a direct compiler call is simpler and works offline.
#
#   scripts/build-native-addons.sh           build if the output is missing or stale
#   scripts/build-native-addons.sh --force   rebuild unconditionally
#
# Output: sip-connector/media/native/build/opus.node (not committed). The build is skipped when a
# stamp next to the output records the same hash of the source, script and compiler flags.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
src="$root/sip-connector/media/native/opus_addon.c"
out_dir="$root/sip-connector/media/native/build"
out="$out_dir/opus.node"
stamp="$out_dir/opus.node.sha256"
cflags=(-O2 -shared -fPIC -std=c11 -Wall -Wextra -fvisibility=hidden)

log() { echo "[native-addons] $*"; }

node_include="$(dirname "$(dirname "$(node -p process.execPath)")")/include/node"
if [ ! -f "$node_include/node_api.h" ]; then
  # Debian's nodejs puts the headers under /usr/include/node whatever the binary's prefix is.
  [ -f /usr/include/node/node_api.h ] && node_include=/usr/include/node
fi
if [ ! -f "$node_include/node_api.h" ]; then
  log "node_api.h not found under $node_include; install Node's headers (Debian: libnode-dev)"; exit 1
fi

packages=(gcc libc6-dev libopus-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_line="apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages to build the Opus addon. Run as root, then npm install again:"
    log "  apt-get -o DPkg::Lock::Timeout=600 update && $apt_line"
    exit 1
  fi
  log "installing build dependencies: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 -qq update
  apt-get -o DPkg::Lock::Timeout=600 -qq -y install --no-install-recommends "${missing[@]}" >/dev/null
fi

# The hash covers everything that changes the binary: source, this script and the Node headers used.
hash="$(cat "$src" "${BASH_SOURCE[0]}" "$node_include/node_api.h" | sha256sum | cut -d' ' -f1)"
if [ "${1:-}" != "--force" ] && [ -f "$out" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ]; then
  log "up to date: $out"; exit 0
fi

mkdir -p "$out_dir"
tmp="$out.tmp.$$"
trap 'rm -f "$tmp"' EXIT
cc "${cflags[@]}" -I"$node_include" "$src" -lopus -o "$tmp"
# Rename into place so a process loading the addon never sees a half-written file.
mv -f "$tmp" "$out"
echo "$hash" > "$stamp"
log "built: $out"
