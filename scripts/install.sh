#!/usr/bin/env bash
# Makes a checkout runnable: Debian packages, npm dependencies, the mediasoup worker (built offline
# against system libraries, cached), and the built client. Idempotent; a second run takes seconds.
#   install.sh          what `npm start` needs
#   install.sh --test   also what `npm test` needs (Chromium, sox)
#   install.sh --bench  also what the benchmarks need (ffmpeg, Chromium); combines with --test
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/system-packages.sh"
cd "$ROOT_DIR"

with_test=0
with_bench=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1 ;;
    --bench) with_bench=1 ;;
    *) fail "unknown option $arg (use --test or --bench)" ;;
  esac
done

node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
  || fail "Node.js >= 20.19 is required (found $(node --version))"

# 1. npm dependencies. Install scripts stay off: mediasoup's and better-sqlite3's would download
#    prebuilt binaries from the internet; steps 2 and 3 build them instead.
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [ "$(cat node_modules/.roundtable-lock 2>/dev/null)" != "$lock_hash" ]; then
  say "installing npm dependencies"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2 || fail "npm ci failed"
  echo "$lock_hash" > node_modules/.roundtable-lock
fi

# 2. mediasoup worker: the cached binary, or a build (which needs the Debian build packages).
if ! bash scripts/build-mediasoup-worker.sh --check; then
  ensure_system_packages --with-build
  bash scripts/build-mediasoup-worker.sh >/dev/null
fi

# 3. better-sqlite3's addon (the room store): the cached build, or a build from source against this
#    Node.js's headers (its install script would download a prebuild instead).
if ! bash scripts/build-better-sqlite3.sh --check; then
  ensure_system_packages --with-build
  bash scripts/build-better-sqlite3.sh
fi

# 4. What recording runs (ffmpeg), then test and benchmark tools.
ensure_system_packages --with-runtime
if [ "$with_test" = 1 ]; then ensure_system_packages --with-test; fi
if [ "$with_bench" = 1 ]; then ensure_system_packages --with-bench; fi

# 5. The client bundle, rebuilt only when its inputs change.
client_hash=$(hash_paths client shared package-lock.json)
if [ "$(cat client/dist/.roundtable-build 2>/dev/null)" != "$client_hash" ]; then
  say "building the client"
  npx vite build --config client/vite.config.ts --logLevel error >&2 || fail "client build failed"
  echo "$client_hash" > client/dist/.roundtable-build
fi
