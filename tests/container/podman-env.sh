# Sourced by run.sh (or by hand: `. tests/container/podman-env.sh CONFDIR`) to point podman at
# the project's own configuration instead of /etc/containers, which is never edited.
#
#   CONFDIR (argument)           containers.conf, storage.conf, registries.conf: rewritten on
#                                every run, removed by run.sh at the end.
#   /var/cache/timewarp-ci/      image store and volumes (graphroot). Kept between runs, outside
#                                any clone, so a fresh CI clone reuses the debootstrapped base and
#                                the build layers: the warm build skips the ~170 MB of -dev
#                                packages (run.sh prints both timings).
#   /run/timewarp-ci/            podman's run-time state (runroot, tmp, network definitions):
#                                fixed paths, because podman refuses a store whose recorded
#                                runroot or tmp dir changed; run.sh leaves nothing running there.
#
# Quirks of this machine handled here:
#   - crun rejects the hybrid cgroup v1/v2 layout: use runc, with cgroupfs (no systemd).
#   - podman's default ulimits (nofile/nproc of 1048576 and more) make runc's setrlimit fail
#     with EPERM: default_ulimits sets values this sandbox permits.
#   - no systemd: events go to a file; health checks are run with `podman healthcheck run`.
#   - no registry: short names resolve only to local images (localhost/…), nothing is pulled.
# shellcheck shell=bash

tw_podman_env() {
    local conf=$1
    TW_CACHE=${TW_CACHE:-/var/cache/timewarp-ci}
    TW_RUNSTATE=${TW_RUNSTATE:-/run/timewarp-ci}
    mkdir -p "$conf" "$TW_CACHE/containers" "$TW_RUNSTATE/runroot" "$TW_RUNSTATE/tmp" \
        "$TW_RUNSTATE/networks"
    local lim=4096 hard
    hard=$(ulimit -Hn)
    [ "$hard" != unlimited ] && [ "$hard" -lt "$lim" ] && lim=$hard
    cat > "$conf/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$lim:$lim", "nproc=4096:4096"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$TW_RUNSTATE/events.log"
tmp_dir = "$TW_RUNSTATE/tmp"
[network]
network_config_dir = "$TW_RUNSTATE/networks"
EOF
    cat > "$conf/storage.conf" <<EOF
[storage]
driver = "overlay"
graphroot = "$TW_CACHE/containers"
runroot = "$TW_RUNSTATE/runroot"
EOF
    cat > "$conf/registries.conf" <<EOF
unqualified-search-registries = []
short-name-mode = "permissive"
EOF
    # Docker image format by default, also for podman-compose's builds: OCI drops HEALTHCHECK.
    export BUILDAH_FORMAT=docker
    export CONTAINERS_CONF=$conf/containers.conf
    export CONTAINERS_STORAGE_CONF=$conf/storage.conf
    export CONTAINERS_REGISTRIES_CONF=$conf/registries.conf
    export TW_CACHE TW_RUNSTATE
}

if [ "${BASH_SOURCE[0]}" != "$0" ] && [ $# -ge 1 ]; then
    tw_podman_env "$1"
fi
