# Fetches a Debian source package (with Debian's patches applied) into the cache. Sourced, never
# executed. Needs a deb-src entry for the machine's Debian mirror (system-packages.sh adds one) and
# dpkg-dev; apt-get source itself runs as any user.

# fetch_debian_source NAME: prints the unpacked source directory, reusing the cached one.
fetch_debian_source() {
  local name=$1 version dest
  version=$(apt-cache showsrc --only-source "$name" 2>/dev/null | awk '/^Version:/ { print $2; exit }')
  if [ -z "$version" ]; then
    # No deb-src entry here (e.g. not root): an already unpacked copy serves as well.
    dest=$(ls -d "$CACHE_DIR/debian-source/${name}_"*/.roundtable-unpacked 2>/dev/null | sort -V | tail -1)
    if [ -n "$dest" ]; then dirname "$dest"; return 0; fi
    say "apt knows no source package $name: it needs a deb-src entry and apt-get update (as root,"
    say "scripts/install.sh adds one), or set ROUNDTABLE_SRTP_CRYPTO=nss to use Debian's NSS build"
    return 1
  fi
  dest="$CACHE_DIR/debian-source/${name}_$version"
  if [ ! -f "$dest/.roundtable-unpacked" ]; then
    local tmp
    tmp=$(mktemp -d "$CACHE_DIR/debian-source.XXXXXX")
    say "fetching Debian source package $name $version"
    if ! (cd "$tmp" && apt-get source -qq --only-source "$name=$version" >"$tmp.log" 2>&1); then
      tail -n 5 "$tmp.log" >&2; rm -rf "$tmp" "$tmp.log"; return 1
    fi
    rm -rf "$dest"; mkdir -p "$(dirname "$dest")"
    mv "$(find "$tmp" -mindepth 1 -maxdepth 1 -type d | head -1)" "$dest"
    touch "$dest/.roundtable-unpacked"
    rm -rf "$tmp" "$tmp.log"
  fi
  echo "$dest"
}
