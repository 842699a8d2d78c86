#!/usr/bin/env bash
# Builds better-sqlite3's native addon (with its bundled SQLite) from source against the running
# Node.js's own headers: no prebuild download, no header download. Caches it outside the checkout,
# keyed by package version + Node ABI, and copies it to where the package loads it from.
#   --check   exit 0 when the addon is in place, identical to the cached build, and loads
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

PACKAGE_DIR="$ROOT_DIR/node_modules/better-sqlite3"
[ -f "$PACKAGE_DIR/package.json" ] || fail "node_modules/better-sqlite3 is missing: run npm ci first"
version=$(node -p "require('$PACKAGE_DIR/package.json').version")
abi=$(node -p 'process.versions.modules')
# Bump when the node-gyp invocation below changes, so caches built the old way are not reused.
BUILD_RECIPE=1
key="$version-node$abi-$(uname -m)-r$BUILD_RECIPE"
cached="$CACHE_DIR/better-sqlite3/$key/better_sqlite3.node"
installed="$PACKAGE_DIR/build/Release/better_sqlite3.node"

loads() { # the addon opens an in-memory database and runs a query
  (cd "$ROOT_DIR" && node -e "new (require('better-sqlite3'))(':memory:').prepare('select sqlite_version()').get()") >/dev/null 2>&1
}
put_in_place() {
  install -D -m 0755 "$cached" "$installed"
  loads || fail "better-sqlite3 $version was built but does not load in Node.js $(node --version); delete $(dirname "$cached") and retry"
}

if [ "${1:-}" = --check ]; then
  [ -f "$cached" ] && cmp -s "$cached" "$installed" && loads
  exit
fi
if [ -f "$cached" ]; then put_in_place; exit 0; fi

mkdir -p "$CACHE_DIR/better-sqlite3"
exec 9>"$CACHE_DIR/better-sqlite3/.lock"
flock 9   # another install may be building the same addon right now
if [ -f "$cached" ]; then put_in_place; exit 0; fi

build_root="$CACHE_DIR/better-sqlite3/build-$key"
log="$CACHE_DIR/better-sqlite3/build-$key.log"
rm -rf "$build_root"; mkdir -p "$build_root"; : > "$log"

step() { build_step "better-sqlite3 $version" "$log" "$@"; } # step NAME CMD...

# The headers of the Node.js that runs the server (Debian/NodeSource: /usr/include/node), checked
# against its ABI, so node-gyp never downloads a header tarball.
node_prefix=$(node -p "require('path').resolve(process.execPath, '../..')")
header_abi=$(sed -n "s/^#define NODE_MODULE_VERSION \([0-9][0-9]*\)\b.*/\1/p" "$node_prefix/include/node/node_version.h" 2>/dev/null | tail -n 1 || true)
[ "$header_abi" = "$abi" ] \
  || fail "Node.js headers for ABI $abi not found in $node_prefix/include/node (found: ${header_abi:-none}); install the headers that match $(node --version)"
# node-gyp as npm ships it (npm runs install scripts with this one), else a project-local one.
node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
[ -f "$node_gyp" ] || node_gyp="$ROOT_DIR/node_modules/node-gyp/bin/node-gyp.js"
[ -f "$node_gyp" ] || fail "node-gyp not found (it comes with npm); cannot build better-sqlite3"
gyp() { (cd "$build_root/src" && node "$node_gyp" "$@" --release --nodedir="$node_prefix"); }

say "building better-sqlite3 $version for Node.js ABI $abi (one-time, a few minutes)"
started=$(date +%s)
step "copy sources" cp -a "$PACKAGE_DIR/." "$build_root/src"
rm -rf "$build_root/src/build"
step "node-gyp configure" gyp configure
step "compile" gyp build --jobs="$(nproc)"
install -D -m 0755 "$build_root/src/build/Release/better_sqlite3.node" "$cached.tmp"
mv "$cached.tmp" "$cached"
rm -rf "$build_root"
say "better-sqlite3 built in $(( $(date +%s) - started ))s, cached at $cached"
put_in_place
