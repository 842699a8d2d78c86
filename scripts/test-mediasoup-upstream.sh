#!/usr/bin/env bash
# Runs mediasoup's own test suite (the compiled Jest tests its npm package ships in node/lib/test)
# against the worker that build-mediasoup-worker.sh built, to check our offline build of a new
# mediasoup version before the project's own tests. Jest and the tests' other helpers, at the
# versions mediasoup's package.json names, are installed from the npm registry into the cache, never
# into the project. Extra arguments go to Jest (e.g. a test file name pattern).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

MEDIASOUP_DIR="$ROOT_DIR/node_modules/mediasoup"
[ -d "$MEDIASOUP_DIR/node/lib/test" ] || fail "this mediasoup package ships no tests in node/lib/test"
version=$(node -p "require('$MEDIASOUP_DIR/package.json').version")
worker_bin=$(bash "$ROOT_DIR/scripts/build-mediasoup-worker.sh")

# A scratch install of the same mediasoup release (its tests require it as "../") with the helpers
# its tests use, pinned as mediasoup's own devDependencies pin them. The npm package leaves out the
# tests' data folder (a DTLS certificate and key), so a self-signed pair stands in for it.
harness="$CACHE_DIR/mediasoup-tests/$version"
if [ ! -f "$harness/.installed" ]; then
  say "installing mediasoup $version and its test helpers (jest, pick-port, werift-sctp) into $harness"
  rm -rf "$harness"; mkdir -p "$harness"
  specs=$(node -e '
    const dev = require(process.argv[1]).devDependencies;
    console.log(["jest", "pick-port", "werift-sctp"].map((name) => `${name}@${dev[name]}`).join(" "));
  ' "$MEDIASOUP_DIR/package.json")
  echo '{ "private": true }' > "$harness/package.json"
  # shellcheck disable=SC2086
  (cd "$harness" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error "mediasoup@$version" $specs >&2)
  data="$harness/node_modules/mediasoup/node/lib/test/data"
  mkdir -p "$data"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 -subj /CN=mediasoup-test \
    -keyout "$data/dtls-key.pem" -out "$data/dtls-cert.pem" 2>/dev/null
  touch "$harness/.installed"
fi

cat > "$harness/jest.config.json" <<JSON
{
  "rootDir": "$harness/node_modules/mediasoup/node/lib",
  "testEnvironment": "node",
  "testMatch": ["**/test/test-*.js"],
  "testPathIgnorePatterns": [],
  "haste": { "retainAllFiles": true },
  "transform": {}
}
JSON
say "running mediasoup $version's own tests against $worker_bin"
cd "$harness"
MEDIASOUP_WORKER_BIN="$worker_bin" node_modules/.bin/jest --config jest.config.json --runInBand "$@"
