# Shared helpers for the install scripts. Sourced, never executed.

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE_DIR="${ROUNDTABLE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/roundtable}"

say()  { printf '\033[1m[roundtable]\033[0m %s\n' "$*" >&2; }
fail() { printf '\033[1;31m[roundtable] error:\033[0m %s\n' "$*" >&2; exit 1; }

# Content hash of files and directories (sorted, so it is stable across machines).
hash_paths() {
  (cd "$ROOT_DIR" && find "$@" -type f ! -path '*/node_modules/*' ! -path '*/dist/*' -print0 2>/dev/null \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}
