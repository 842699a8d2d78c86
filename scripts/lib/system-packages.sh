# Debian packages the project needs, installed when missing. Sourced by install.sh.

# Build the mediasoup worker against the system's libraries (see the README, "The mediasoup worker, offline"), and
# better-sqlite3's addon with node-gyp (g++, make, python3). flatc generates the worker's FlatBuffers
# code; dpkg-dev unpacks Debian's libsrtp2 source package (compiled with OpenSSL into the worker);
# libsrtp2-dev is Debian's NSS build, used only with ROUNDTABLE_SRTP_CRYPTO=nss.
WORKER_BUILD_PACKAGES=(libssl-dev libuv1-dev libusrsctp-dev libabsl-dev liburing-dev libflatbuffers-dev
  flatbuffers-compiler libsrtp2-dev dpkg-dev patch pkg-config ninja-build g++ make python3)
# What the server itself uses at run time: ffmpeg records tracks and renders composites, with DejaVu
# for the names drawn in the composite.
RUNTIME_PACKAGES=(ffmpeg fonts-dejavu-core)
# Real-browser tests and the media files they feed to fake devices; Firefox ESR (driven over WebDriver
# BiDi), and for network tests: namespaces and veths (iproute2), faults (iptables) and a TURN server (coturn);
# redis-server (7.0; Valkey 8 from backports speaks the same protocol) for the cluster tests; ffmpeg
# (with ffprobe) records tracks in the recording tests and publishes RTP in them.
TEST_PACKAGES=(chromium sox firefox-esr iproute2 iptables coturn openssl redis-server ffmpeg)
# Benchmarks (docs/benchmarks.md): ffmpeg encodes the forwarding benchmark's RTP source; the browser
# benchmark drives the same Chromium as the tests; the bad-networks benchmark uses namespaces and iptables.
BENCH_PACKAGES=(ffmpeg chromium iproute2 iptables)
MESON_MIN_VERSION="1.1"
BACKPORTS_SOURCE=/etc/apt/sources.list.d/roundtable-bookworm-backports.sources
# Source packages (deb-src) of bookworm on the same mirror, for `apt-get source libsrtp2`.
DEB_SRC_SOURCE=/etc/apt/sources.list.d/roundtable-bookworm-src.sources

missing_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || printf '%s ' "$pkg"
  done
}

meson_is_recent() {
  command -v meson >/dev/null 2>&1 || return 1
  dpkg --compare-versions "$(meson --version 2>/dev/null)" ge "$MESON_MIN_VERSION"
}

# The Debian mirror the machine already uses for bookworm.
debian_mirror() {
  local mirror
  mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | grep -i debian \
    | head -1 | awk '{print $2}')
  [ -n "$mirror" ] || mirror=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v security | head -1 | awk '{print $2}')
  [ -n "$mirror" ] || fail "cannot find the Debian mirror in /etc/apt/sources.list.d/"
  echo "$mirror"
}

# The backports suite on that mirror.
write_backports_source() {
  cat > "$BACKPORTS_SOURCE" <<SRC
Types: deb
URIs: $(debian_mirror)
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
}

# bookworm's source packages on that mirror, unless apt already knows libsrtp2's.
deb_src_known() { [ -n "$(apt-cache showsrc --only-source libsrtp2 2>/dev/null | head -1)" ]; }
write_deb_src_source() {
  cat > "$DEB_SRC_SOURCE" <<SRC
Types: deb-src
URIs: $(debian_mirror)
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
}

# ensure_system_packages [--with-runtime] [--with-build] [--with-test] [--with-bench]
ensure_system_packages() {
  local wanted=() need_meson=0 need_src=0
  for arg in "$@"; do
    case "$arg" in
      --with-build) wanted+=("${WORKER_BUILD_PACKAGES[@]}"); meson_is_recent || need_meson=1
        [ "${ROUNDTABLE_SRTP_CRYPTO:-openssl}" = openssl ] && ! deb_src_known && need_src=1 ;;
      --with-runtime) wanted+=("${RUNTIME_PACKAGES[@]}") ;;
      --with-test) wanted+=("${TEST_PACKAGES[@]}") ;;
      --with-bench) wanted+=("${BENCH_PACKAGES[@]}") ;;
    esac
  done
  local missing
  missing=$(missing_packages "${wanted[@]}")
  [ -z "$missing" ] && [ "$need_meson" = 0 ] && [ "$need_src" = 0 ] && return 0

  local apt_line="apt-get install -y --no-install-recommends $missing"
  local meson_line="apt-get install -y -t bookworm-backports meson"
  if [ "$(id -u)" != 0 ]; then
    say "missing Debian packages. As root, run:"
    [ -n "$missing" ] && printf '  apt-get update && %s\n' "$apt_line" >&2
    [ "$need_meson" = 1 ] && printf '  (add bookworm-backports to apt sources) && apt-get update && %s\n' "$meson_line" >&2
    [ "$need_src" = 1 ] && printf '  (add a deb-src entry for bookworm to apt sources) && apt-get update\n' >&2
    fail "cannot install system packages without root"
  fi
  [ "$need_meson" = 1 ] && [ ! -f "$BACKPORTS_SOURCE" ] && write_backports_source
  [ "$need_src" = 1 ] && write_deb_src_source
  local what="${missing:-}"
  [ "$need_meson" = 1 ] && what="$what meson (bookworm-backports)"
  [ "$need_src" = 1 ] && what="$what, bookworm's source package lists (deb-src)"
  say "installing: $(echo "$what" | sed 's/^[ ,]*//')"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || fail "apt-get update failed"
  if [ -n "$missing" ]; then
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null || fail "apt-get failed: $apt_line"
  fi
  if [ "$need_meson" = 1 ]; then
    apt-get install -y -qq -t bookworm-backports meson >/dev/null || fail "apt-get failed: $meson_line"
    meson_is_recent || fail "meson >= $MESON_MIN_VERSION is required, found $(meson --version 2>/dev/null || echo none)"
  fi
}
