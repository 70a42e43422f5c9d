#!/usr/bin/env bash
# Builds mediasoup-worker offline from the sources inside the mediasoup npm tarball, against Debian 12's
# -dev libraries, and caches the binary outside the repo keyed by version and build flavour.
#
#   scripts/build-mediasoup-worker.sh          build if the cache lacks it (run by `npm install`)
#   scripts/build-mediasoup-worker.sh --path   print the cached binary's path and exit
#
# Why not mediasoup's own installer: it downloads a prebuilt worker or meson subprojects, and only the
# npm registry and Debian are reachable. Each meson subproject is replaced by a shim that points at
# the Debian library (pkg-config), and Debian's meson 1.0.1 is used.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"

# The pinned version is the one in package.json, so the Node package and the worker always match.
version="$(node -p "require('$root/package.json').dependencies.mediasoup")"
# Bump the flavour whenever a patch or build flag below changes; it is part of the cache key.
flavour="deb12-r1"
cache_dir="${CONFLUX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/conflux}"
out="$cache_dir/mediasoup-worker-$version-$flavour/mediasoup-worker"

if [ "${1:-}" = "--path" ]; then echo "$out"; exit 0; fi

log() { echo "[mediasoup-worker] $*"; }

if [ -n "${MEDIASOUP_WORKER_BIN:-}" ]; then
  log "MEDIASOUP_WORKER_BIN is set ($MEDIASOUP_WORKER_BIN); not building"; exit 0
fi
if [ -x "$out" ]; then log "cached: $out"; exit 0; fi

build_packages=(g++ make pkg-config ninja-build meson libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev
  libabsl-dev nlohmann-json3-dev libflatbuffers-dev flatbuffers-compiler)
missing=()
for p in "${build_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_line="apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages to build the worker. Run as root, then npm install again:"
    log "  apt-get update && $apt_line"
    exit 1
  fi
  log "installing build dependencies: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 -qq update
  apt-get -o DPkg::Lock::Timeout=600 -qq -y install --no-install-recommends "${missing[@]}" >/dev/null
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/mediasoup-worker-build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
log "building mediasoup $version worker in $work (about 7 minutes on 2 cores)"
cd "$work"
npm pack --silent "mediasoup@$version" >/dev/null
tar xzf "mediasoup-$version.tgz"
cd package/worker

# The tarball asks for meson >= 1.1; Debian 12's 1.0.1 builds it correctly.
sed -i "s/meson_version: '>= 1\.[0-9.]*'/meson_version: '>= 1.0.0'/" meson.build

# Debian's OpenSSL supports kernel TLS. mediasoup's BIO callback compares the operation with
# `== BIO_CB_RETURN`, but OpenSSL ORs that flag into BIO_CB_CTRL, so the callback answers "yes" to
# the KTLS queries; OpenSSL then never allocates the DTLS write buffer and the worker crashes on the
# first handshake with a browser. Testing the bit is the fix (test/e2e guards it).
sed -i 's/(operationType == BIO_CB_RETURN)/(operationType \& BIO_CB_RETURN)/' src/RTC/DtlsTransport.cpp
grep -q '(operationType & BIO_CB_RETURN)' src/RTC/DtlsTransport.cpp

# Shim subprojects: each declares the variables mediasoup's meson.build expects, backed by Debian.
subprojects=subprojects
srtp=libsrtp2; [ -f "$subprojects/libsrtp3.wrap" ] && srtp=libsrtp3
rm -f "$subprojects"/*.wrap
shim() { # name, meson body
  mkdir -p "$subprojects/$1"
  printf "project('%s', 'c', 'cpp')\n%s\n" "$1" "$2" > "$subprojects/$1/meson.build"
  for option in build_tests build_benchmarks crypto-library crypto-library-kdf tests sctp_build_programs; do
    echo "option('$option', type: 'string')"
  done > "$subprojects/$1/meson_options.txt"
}
shim openssl "openssl_dep = dependency('openssl', version: '>=3')
libssl_lib = []
libcrypto_lib = []"
shim libuv "libuv_dep = dependency('libuv')
libuv = []"
shim usrsctp "usrsctp_dep = dependency('usrsctp')
usrsctp = []"
shim nlohmann_json "nlohmann_json_dep = dependency('nlohmann_json')"
shim flatbuffers "flatbuffers_dep = dependency('flatbuffers')
flatbuffers_lib = []"
shim catch2 "catch2_dep = dependency('catch2', required: false)"
shim abseil-cpp "absl_container_dep = declare_dependency(dependencies: [
  dependency('absl_flat_hash_map'), dependency('absl_flat_hash_set'),
  dependency('absl_btree'), dependency('absl_inlined_vector'), dependency('absl_memory')])
absl_strings_dep = dependency('absl_strings')
absl_types_dep = dependency('absl_optional')
absl_container_lib = []"
shim "$srtp" "${srtp}_dep = declare_dependency(dependencies: dependency('libsrtp2'),
  compile_args: ['-I/usr/include/srtp2', '-include', meson.current_source_dir() / 'srtp_compat.h'])
$srtp = []"
cp "$here/mediasoup-worker/srtp_compat.h" "$subprojects/$srtp/srtp_compat.h"

extra=()
# liburing would be picked from the build machine's kernel; the binary must not depend on it.
grep -q ms_disable_liburing meson_options.txt && extra+=(-Dms_disable_liburing=true)
meson setup --wrap-mode=nodownload --buildtype release -Db_ndebug=true -Db_pie=true \
  -Db_staticpic=true "${extra[@]}" build >build-setup.log || { cat build-setup.log; exit 1; }
# FlatBuffers headers must exist before the main compile.
[ -d fbs ] && meson compile -C build flatbuffers-generator >/dev/null
# ninja prints [n/total] per object: that is the progress line.
nice meson compile -C build -j "${JOBS:-$(nproc)}" mediasoup-worker | grep --line-buffered -E '^\[[0-9]+/[0-9]+\]' \
  | awk '{ print "[mediasoup-worker] compile " $1; fflush() }'
install -Dm755 -s build/mediasoup-worker "$out"
log "built: $out"
