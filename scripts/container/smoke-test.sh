#!/usr/bin/env bash
# Container smoke test, run by hand (not in CI): builds the base image when it is missing and the app
# image from ./Dockerfile with podman, starts the container, waits for its HEALTHCHECK, then holds a
# two-person meeting through it in two real Chromium pages, each of which must decode the other's
# camera. Prints PASS or FAIL with the figures. See docs/container.md.
#
#   smoke-test.sh [--no-cache]
#     --no-cache    rebuild every layer (the native builds still come from their cache mount)
# The images stay; the container, its volume and the network namespace are always removed.
# SMOKE_JOIN=together opens both pages at the same instant (see docs/container.md).
#
# The container runs in a network namespace made for the test, with the image's own network defaults
# (media on 0.0.0.0, announced address detected); the browsers run in the same namespace. Its traffic
# cannot reach any other address, and its ports cannot clash with anything else on the machine.
# Needs root, podman, iproute2, /usr/bin/chromium, and the project's node_modules (npm ci) for
# Playwright and tsx.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
source "$HERE/podman.sh"

BASE_IMAGE=${ROUNDTABLE_BASE_IMAGE:-localhost/roundtable-base:bookworm}
IMAGE=${ROUNDTABLE_IMAGE:-localhost/roundtable:smoke}
PORT=3000
WORKERS=2
HEALTH_TIMEOUT=90
MEDIA_IP=198.18.203.1   # RFC 2544 benchmarking range; exists only inside the test's namespace

say()  { printf '\033[1m[smoke]\033[0m %s\n' "$*" >&2; }
fail() { printf '\033[1;31m[smoke] FAIL:\033[0m %s\n' "$*" >&2; exit 1; }

no_cache=()
for arg in "$@"; do
  case "$arg" in
    --no-cache) no_cache=(--no-cache) ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) fail "unknown option $arg" ;;
  esac
done

[ "$(id -u)" = 0 ] || fail "run as root (podman, network namespaces)"
for tool in podman ip ss curl node; do command -v "$tool" >/dev/null || fail "$tool is missing"; done
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || fail "Chromium is missing (apt-get install -y chromium)"
[ -d "$ROOT/node_modules/@playwright/test" ] && [ -d "$ROOT/node_modules/tsx" ] \
  || fail "node_modules lacks Playwright or tsx: run npm ci --ignore-scripts first"

run_dir=$(mktemp -d "${TMPDIR:-/tmp}/roundtable-smoke.XXXXXX")
netns="rtsmoke-$$"
container="roundtable-smoke-$$"
cleanup() {
  local code=$?
  pm rm -f -v -t 5 "$container" >/dev/null 2>&1 || true
  ip netns del "$netns" 2>/dev/null || true
  if [ "$code" = 0 ]; then rm -rf "$run_dir"; else say "logs kept in $run_dir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 1. Base image (debootstrap + Node.js), only when missing.
bash "$HERE/build-base-image.sh" --image "$BASE_IMAGE"
probe_podman "$BASE_IMAGE" || fail "podman cannot start containers here"
say "podman: ${PODMAN_GLOBAL[*]:-(defaults)} ${PODMAN_LIMITS[*]:-}"

# 2. App image. --format docker keeps the HEALTHCHECK (the OCI format has no such field).
secret=()
ca=${NODE_EXTRA_CA_CERTS:-}
if [ -n "$ca" ] && [ -s "$ca" ]; then secret=(--secret "id=extra_ca,src=$ca"); say "npm CA bundle for the build: $ca"; fi
say "building $IMAGE from $ROOT/Dockerfile (log: $run_dir/build.log)"
build_start=$(date +%s)
if ! pm build --format docker "${no_cache[@]}" "${PODMAN_LIMITS[@]}" "${secret[@]}" \
     --build-arg "BASE=$BASE_IMAGE" -t "$IMAGE" -f "$ROOT/Dockerfile" "$ROOT" >"$run_dir/build.log" 2>&1; then
  tail -n 30 "$run_dir/build.log" >&2
  fail "image build failed"
fi
build_secs=$(( $(date +%s) - build_start ))
image_mb=$(( $(pm image inspect --format '{{.Size}}' "$IMAGE") / 1000000 ))
base_mb=$(( $(pm image inspect --format '{{.Size}}' "$BASE_IMAGE") / 1000000 ))
cached=$(grep -c -- '--> Using cache' "$run_dir/build.log" || true)
say "built in ${build_secs}s ($cached cached steps), image ${image_mb} MB (base ${base_mb} MB)"

# 3. The container, in a network namespace made for this run. Besides loopback it holds one veth pair
#    whose two ends both stay inside it: Chromium gathers no ICE candidates from loopback alone, and the
#    server needs a non-loopback address to detect and announce. Nothing is forwarded out of it.
ip netns add "$netns"
ip -n "$netns" link set lo up
ip -n "$netns" link add rtsmoke0 type veth peer name rtsmoke1
ip -n "$netns" addr add "$MEDIA_IP/30" dev rtsmoke0
ip -n "$netns" link set rtsmoke0 up
ip -n "$netns" link set rtsmoke1 up
start_ms=$(( $(date +%s%N) / 1000000 ))
# Without systemd, podman cannot schedule the HEALTHCHECK timer and logs two errors about it; the
# loop below runs the check itself.
pm run -d --name "$container" --network "ns:/run/netns/$netns" "${PODMAN_LIMITS[@]}" \
  -e HOST=127.0.0.1 -e PORT="$PORT" -e ROUNDTABLE_WORKERS="$WORKERS" \
  "$IMAGE" 2> >(grep -v 'unable to get systemd connection' >&2) >/dev/null
healthy=0
for _ in $(seq 1 $(( HEALTH_TIMEOUT * 4 ))); do
  [ "$(pm inspect --format '{{.State.Running}}' "$container")" = true ] || break
  # The image's own HEALTHCHECK command, run now rather than on its 30 s timer.
  if pm healthcheck run "$container" >/dev/null 2>&1; then healthy=1; break; fi
  sleep 0.25
done
elapsed_ms=$(( $(date +%s%N) / 1000000 - start_ms ))
healthy_secs="$(( elapsed_ms / 1000 )).$(( elapsed_ms % 1000 / 100 ))"
pm logs "$container" >"$run_dir/container.log" 2>&1 || true
if [ "$healthy" != 1 ]; then tail -n 30 "$run_dir/container.log" >&2; fail "container not healthy after ${healthy_secs}s"; fi
health=$(ip netns exec "$netns" curl -fsS "http://127.0.0.1:$PORT/healthz")
user=$(pm exec "$container" id -un)
pid1=$(pm exec "$container" cat /proc/1/comm)
media_ports=$(ip netns exec "$netns" ss -H -lnu | awk '{ n = split($4, a, ":"); print a[n] }' | sort -n | paste -sd, -)
announced=$(grep -o '"announcedIp":"[^"]*"' "$run_dir/container.log" | head -1 | cut -d'"' -f4)
say "healthy after ${healthy_secs}s: $health"
say "runs as $user under $pid1; media UDP ports: ${media_ports:-none}; announced media address: ${announced:-?}"
[ "$announced" = "$MEDIA_IP" ] || say "warning: the server announces ${announced:-nothing}, not the namespace's $MEDIA_IP"

# 4. The meeting: two Chromium pages in the same namespace.
say "two Chromium pages join one room through the container"
set +e
meeting=$(cd "$ROOT" && ip netns exec "$netns" node --import tsx scripts/container/smoke-meeting.ts "http://127.0.0.1:$PORT" 2>"$run_dir/meeting.err")
meeting_code=$?
set -e
pm logs "$container" >"$run_dir/container.log" 2>&1 || true
echo "$meeting" >"$run_dir/meeting.json"
figures=$(node -e '
  const r = JSON.parse(process.argv[1] || "{}");
  if (!r.pages) { console.log(r.error ?? "no result"); process.exit(0); }
  console.log(r.pages.map((p) => `${p.name} decodes ${p.frameWidth}x${p.frameHeight} ${p.codec}, ${p.framesDecoded} frames, ` +
    `${p.audioBytes} audio bytes; joined ${p.joinedMs} ms, first frame ${p.firstFrameMs} ms`).join("\n"));
' "$meeting" 2>/dev/null || echo "$meeting")

echo
echo "image:        $IMAGE, ${image_mb} MB (base $BASE_IMAGE, ${base_mb} MB)"
echo "build:        ${build_secs}s ($cached steps from cache)"
echo "healthy:      ${healthy_secs}s after podman run (user $user, PID 1 $pid1)"
echo "media:        UDP ports ${media_ports:-none}, announced ${announced:-?} (detected by the server)"
echo "meeting:"
sed 's/^/  /' <<<"$figures"
if [ "$meeting_code" = 0 ]; then
  echo "PASS"
else
  [ -s "$run_dir/meeting.err" ] && tail -n 20 "$run_dir/meeting.err" >&2
  echo "FAIL"
  exit 1
fi
