#!/usr/bin/env bash
# Builds mediasoup's C++ worker against Debian's libraries (no downloads), caches it outside the
# checkout keyed by mediasoup version + shim content, and links it where mediasoup looks by default.
# Prints the cached binary's path on stdout.
#   --check   exit 0 when the cached worker exists, its libraries resolve, and mediasoup points at it
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

MEDIASOUP_DIR="$ROOT_DIR/node_modules/mediasoup"
[ -f "$MEDIASOUP_DIR/package.json" ] || fail "node_modules/mediasoup is missing: run npm ci first"
version=$(node -p "require('$MEDIASOUP_DIR/package.json').version")
# Bump when the meson/ninja invocation below changes, so caches built the old way are not reused.
BUILD_RECIPE=1
shim_hash=$(hash_paths scripts/mediasoup-worker)
key="$version-r$BUILD_RECIPE-$shim_hash"
cached_bin="$CACHE_DIR/mediasoup-worker/$key/mediasoup-worker"
default_bin="$MEDIASOUP_DIR/worker/out/Release/mediasoup-worker"

link_default() {
  mkdir -p "$(dirname "$default_bin")"
  ln -sfn "$cached_bin" "$default_bin"
  echo "$cached_bin"
}

usable() { [ -x "$cached_bin" ] && ! ldd "$cached_bin" 2>/dev/null | grep -q 'not found'; }

if [ "${1:-}" = --check ]; then
  usable && [ "$(readlink "$default_bin" 2>/dev/null)" = "$cached_bin" ]
  exit
fi
if usable; then link_default; exit 0; fi

mkdir -p "$CACHE_DIR/mediasoup-worker"
exec 9>"$CACHE_DIR/mediasoup-worker/.lock"
flock 9   # another install may be building the same worker right now
if usable; then link_default; exit 0; fi

build_root="$CACHE_DIR/mediasoup-worker/build-$key"
log="$CACHE_DIR/mediasoup-worker/build-$key.log"
rm -rf "$build_root"; mkdir -p "$build_root"; : > "$log"

step() { build_step "mediasoup worker $version" "$log" "$@"; } # step NAME CMD...

say "building mediasoup-worker $version against system libraries (one-time, a few minutes)"
started=$(date +%s)
step "copy sources" cp -a "$MEDIASOUP_DIR/worker/." "$build_root/src"
rm -f "$build_root"/src/subprojects/*.wrap
step "install shims" cp -a "$ROOT_DIR/scripts/mediasoup-worker/subprojects/." "$build_root/src/subprojects/"
step "meson setup" meson setup "$build_root/out" "$build_root/src" --buildtype release \
  -Db_ndebug=true -Db_pie=true -Db_staticpic=true
step "compile" ninja -C "$build_root/out" mediasoup-worker
install -D -m 0755 "$build_root/out/mediasoup-worker" "$cached_bin.tmp"
mv "$cached_bin.tmp" "$cached_bin"
rm -rf "$build_root"
say "worker built in $(( $(date +%s) - started ))s, cached at $cached_bin"
link_default
