#!/usr/bin/env bash
# Builds mediasoup's C++ worker against Debian's libraries (no downloads besides Debian's archive),
# caches it outside the checkout keyed by mediasoup version + SRTP crypto + shim/patch content, and
# links it where mediasoup looks by default. Prints the cached binary's path on stdout.
#   --check          exit 0 when the cached worker exists, its libraries resolve, and mediasoup points at it
#   --no-link        build (or find) the cached worker and print its path, but leave the default link
#                    alone: for side-by-side benchmarks of two builds (tests/bench/engines.ts)
#   --worker-tests   build the worker's own C++ tests (Catch2 v3) from the same sources, shims and
#                    patches, and run them; nothing is cached (it is a second full compile, ~32 min
#                    here under load). 3.19.22: 110/111 test cases pass; the other lacks data files
# ROUNDTABLE_SRTP_CRYPTO=openssl (default) compiles libsrtp 2.5 from Debian's source package with
# OpenSSL into the worker; =nss links Debian's packaged libsrtp2 (NSS, about 2x slower per packet),
# kept for side-by-side benchmarks. Beside the binary, build-info.json says what went in.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/debian-source.sh"

MEDIASOUP_DIR="$ROOT_DIR/node_modules/mediasoup"
[ -f "$MEDIASOUP_DIR/package.json" ] || fail "node_modules/mediasoup is missing: run npm ci first"
version=$(node -p "require('$MEDIASOUP_DIR/package.json').version")
# Bump when the meson/ninja invocation below changes, so caches built the old way are not reused.
BUILD_RECIPE=2
srtp_crypto=${ROUNDTABLE_SRTP_CRYPTO:-openssl}
case "$srtp_crypto" in openssl|nss) ;; *) fail "ROUNDTABLE_SRTP_CRYPTO must be openssl or nss" ;; esac
shim_hash=$(hash_paths scripts/mediasoup-worker scripts/lib/debian-source.sh)
key="$version-r$BUILD_RECIPE-$srtp_crypto-$shim_hash"
cached_bin="$CACHE_DIR/mediasoup-worker/$key/mediasoup-worker"
default_bin="$MEDIASOUP_DIR/worker/out/Release/mediasoup-worker"

link_default() {
  if [ "${1:-}" != --no-link ]; then
    mkdir -p "$(dirname "$default_bin")"
    ln -sfn "$cached_bin" "$default_bin"
  fi
  echo "$cached_bin"
}

usable() { [ -x "$cached_bin" ] && ! ldd "$cached_bin" 2>/dev/null | grep -q 'not found'; }

if [ "${1:-}" = --check ]; then
  usable && [ "$(readlink "$default_bin" 2>/dev/null)" = "$cached_bin" ]
  exit
fi

step() { build_step "mediasoup worker $version" "$log" "$@"; } # step NAME CMD...

# prepare_sources DIR: mediasoup's worker sources with our shims in place of its wraps, our patches
# applied and, for OpenSSL SRTP, Debian's libsrtp2 source as a subproject. Sets srtp_source.
prepare_sources() {
  local src=$1 patch srtp_dir
  step "copy sources" cp -a "$MEDIASOUP_DIR/worker/." "$src"
  rm -f "$src"/subprojects/*.wrap
  step "install shims" cp -a "$ROOT_DIR/scripts/mediasoup-worker/subprojects/." "$src/subprojects/"
  for patch in "$ROOT_DIR"/scripts/mediasoup-worker/patches/*.patch; do
    step "apply $(basename "$patch")" patch -d "$src" -p1 --forward --no-backup-if-mismatch -i "$patch"
  done
  srtp_source="Debian libsrtp2 package (NSS)"
  if [ "$srtp_crypto" = openssl ]; then
    srtp_dir=$(fetch_debian_source libsrtp2) || fail "cannot get Debian's libsrtp2 source package (see above)"
    step "copy libsrtp2 source" cp -a "$srtp_dir/." "$src/subprojects/libsrtp2"
    srtp_source="Debian source package $(basename "$srtp_dir" | sed 's/_/ /'), built with OpenSSL"
  fi
}
MESON_OPTIONS=(--buildtype release -Db_ndebug=true -Db_pie=true -Db_staticpic=true
  -Dlibsrtp3:roundtable_crypto="$srtp_crypto")

if [ "${1:-}" = --worker-tests ]; then
  build_root="$CACHE_DIR/mediasoup-worker/tests-$key"
  log="$build_root.log"
  rm -rf "$build_root"; mkdir -p "$build_root"; : > "$log"
  say "building mediasoup $version's C++ tests (a full compile of the worker again)"
  started=$(date +%s)
  prepare_sources "$build_root/src"
  step "meson setup" meson setup "$build_root/out" "$build_root/src" "${MESON_OPTIONS[@]}" -Dms_build_tests=true
  step "generate flatbuffers" meson compile -C "$build_root/out" flatbuffers-generator
  step "compile tests" meson compile -C "$build_root/out" mediasoup-worker-test
  say "tests built in $(( $(date +%s) - started ))s; running them"
  # The npm package leaves out the tests' data files (RTP packet captures): the three sections that
  # read them fail with "cannot open file".
  rc=0
  (cd "$build_root/out" && ./mediasoup-worker-test) || rc=$?
  rm -rf "$build_root"
  exit "$rc"
fi
if usable; then link_default "${1:-}"; exit 0; fi

mkdir -p "$CACHE_DIR/mediasoup-worker"
exec 9>"$CACHE_DIR/mediasoup-worker/.lock"
flock 9   # another install may be building the same worker right now
if usable; then link_default "${1:-}"; exit 0; fi

build_root="$CACHE_DIR/mediasoup-worker/build-$key"
log="$CACHE_DIR/mediasoup-worker/build-$key.log"
rm -rf "$build_root"; mkdir -p "$build_root"; : > "$log"

say "building mediasoup-worker $version against system libraries (one-time, a few minutes)"
started=$(date +%s)
prepare_sources "$build_root/src"
step "meson setup" meson setup "$build_root/out" "$build_root/src" "${MESON_OPTIONS[@]}"
# The generated FBS/*.h headers are not ordered before the worker's sources: generate them first.
step "generate flatbuffers" meson compile -C "$build_root/out" flatbuffers-generator
step "compile" meson compile -C "$build_root/out" mediasoup-worker
liburing=false
grep -q MS_LIBURING_SUPPORTED "$build_root/out/compile_commands.json" && liburing=true
install -D -m 0755 "$build_root/out/mediasoup-worker" "$cached_bin.tmp"
cat > "$(dirname "$cached_bin")/build-info.json" <<INFO
{ "mediasoup": "$version", "srtpCrypto": "$srtp_crypto", "libsrtp": "$srtp_source",
  "liburing": $liburing, "builtIn": "$(( $(date +%s) - started ))s" }
INFO
mv "$cached_bin.tmp" "$cached_bin"
rm -rf "$build_root"
say "worker built in $(( $(date +%s) - started ))s, cached at $cached_bin"
link_default "${1:-}"
