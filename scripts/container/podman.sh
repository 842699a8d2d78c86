# Podman options that work on this machine. Sourced by the container scripts, never executed.
#
# ROUNDTABLE_PODMAN_OPTS is put before every podman command (for example
# "--storage-driver vfs --root /var/lib/containers/vfs" where overlay does not work).
# probe_podman IMAGE then finds the OCI runtime and resource limits that can start a container:
# some VMs (cgroup v1 + v2 "hybrid" hosts, or no CAP_SYS_RESOURCE) refuse crun, or refuse podman's
# default limits of 1,048,576 open files. Sets PODMAN_GLOBAL (before the command) and PODMAN_LIMITS
# (for `podman build` and `podman run`).

read -r -a PODMAN_GLOBAL <<<"${ROUNDTABLE_PODMAN_OPTS:-}"
PODMAN_LIMITS=()

pm() { podman "${PODMAN_GLOBAL[@]}" "$@"; }

probe_podman() {
  local image=$1 runtime nofile nproc
  local base_global=("${PODMAN_GLOBAL[@]}")
  nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
  [ "$nofile" = unlimited ] && nofile=1048576
  [ "$nproc" = unlimited ] && nproc=4194304
  for runtime in "" crun runc; do
    if [ -n "$runtime" ]; then
      command -v "$runtime" >/dev/null || continue
      PODMAN_GLOBAL=("${base_global[@]}" --runtime "$runtime")
    else
      PODMAN_GLOBAL=("${base_global[@]}")
    fi
    PODMAN_LIMITS=()
    pm run --rm --network none "$image" true >/dev/null 2>&1 && return 0
    # The host's own hard limits; some runtimes fail on a high process limit, so step it down.
    local n=$nproc
    while [ "$n" -ge 1024 ]; do
      PODMAN_LIMITS=(--ulimit "nofile=$nofile:$nofile" --ulimit "nproc=$n:$n")
      pm run --rm --network none "${PODMAN_LIMITS[@]}" "$image" true >/dev/null 2>&1 && return 0
      n=$(( n / 2 ))
    done
  done
  PODMAN_GLOBAL=("${base_global[@]}"); PODMAN_LIMITS=()
  echo "no podman runtime could start $image here; this is what the default one says:" >&2
  pm run --rm --network none "$image" true >&2 || true
  return 1
}
