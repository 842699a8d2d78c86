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

# build_step WHAT LOG NAME CMD...: runs CMD with its output appended to LOG; on failure shows the lines
# that say why (not the whole log) and stops, naming the step.
build_step() {
  local what=$1 log=$2 name=$3
  shift 3
  if ! "$@" >>"$log" 2>&1; then
    printf '\n[roundtable] %s build failed at step "%s". Relevant lines:\n' "$what" "$name" >&2
    grep -E -i 'error|not found|no such file|dependency .* found: no|undefined reference|fatal' "$log" | tail -n 15 >&2 \
      || tail -n 15 "$log" >&2
    fail "$what did not build (full log: $log)"
  fi
}
