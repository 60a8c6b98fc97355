#!/usr/bin/env bash
# Container suite: builds docker/Dockerfile for real with podman (no Docker engine, no registry
# here), runs the image against SQLite and PostgreSQL, and brings docker/docker-compose.yml up
# with podman-compose. Every assertion is a named check printed PASS/FAIL; the LAST stdout line
# is `N passed, M failed, K skipped`; exit status 1 if anything failed.
#
# How the pieces stand in for what a developer's Docker has (details in the files named):
#   debian:bookworm-slim  base-image.sh: debootstrap minbase, slimmed like the official image,
#                         cached in /var/cache/timewarp-ci keyed by a hash of that script and the
#                         host's apt sources, `podman import`ed as debian:bookworm-slim.
#   postgres:15           postgres-standin/: Debian's postgresql-15 on that base with an entry
#                         point honouring POSTGRES_USER/PASSWORD/DB and PGDATA. TEST ONLY.
#   podman config         podman-env.sh: config files in a temporary folder (CONTAINERS_CONF,
#                         CONTAINERS_STORAGE_CONF, CONTAINERS_REGISTRIES_CONF), image store kept
#                         in /var/cache/timewarp-ci for layer reuse, /etc never edited.
# PostgreSQL "reachable from the container" = a postgres:15 stand-in container on a podman
# network of this test, reached by the app container through the network alias `db`, exactly as
# in the compose file. The API is reached from the host only through ports published on
# 127.0.0.1.
#
# Needs root (podman storage, netavark, apt-get). Not root: every check is reported SKIPPED.
# Environment: TW_RESET_CACHE=1 empties the cached image store first (a cold run);
# TW_KEEP_LOGS=DIR copies the build/compose/migrate logs there before the temp folder goes.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
ROOT=$(pwd)
HERE=$ROOT/tests/container
T0=$(date +%s)

CHECKS=(image-builds db-ca-bundle-baked image-size-le-100MB added-layers-le-25MB no-compiler-or-apt-lists
        runs-as-non-root port-8000-exposed healthcheck-declared entrypoint-cmd-stopsignal
        migrate-one-off-sqlite migrate-is-idempotent serve-does-not-migrate
        read-only-rootfs-serves-api-sqlite healthcheck-passes
        postgres-migrate-one-off postgres-serves-api
        sigterm-inflight-request-completed sigterm-exits-fast-with-0
        compose-stack-serves-api compose-restart-keeps-clip compose-down-removes-stack)
PASSED=0 FAILED=0 SKIPPED=0
declare -A REPORTED=()

pass() { REPORTED[$1]=1; PASSED=$((PASSED + 1)); echo "PASS $1${2:+ ($2)}"; }
fail() { REPORTED[$1]=1; FAILED=$((FAILED + 1)); echo "FAIL $1${2:+: $2}"; }
info() { echo "  .. [$(( $(date +%s) - T0 )) s] $*"; }
summary() {
    local c
    for c in "${CHECKS[@]}"; do
        [ -n "${REPORTED[$c]:-}" ] || { FAILED=$((FAILED + 1)); echo "FAIL $c: not reached"; }
    done
    info "container suite took $(( $(date +%s) - T0 )) s"
    echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
}

if [ "$(id -u)" != 0 ]; then
    {
        echo "############################################################################"
        echo "SKIPPED: container suite: not running as root (uid $(id -u))."
        echo "SKIPPED: podman's storage, netavark networking and apt-get need root here;"
        echo "SKIPPED: run it as root (CI does) to build and test docker/Dockerfile."
        echo "############################################################################"
    }
    for c in "${CHECKS[@]}"; do echo "SKIP $c"; done
    echo "0 passed, 0 failed, ${#CHECKS[@]} skipped"
    exit 0
fi

# ---- tools ------------------------------------------------------------------------------------
need=()
for p in podman runc debootstrap podman-compose curl jq iproute2; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    info "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get -o DPkg::Lock::Timeout=300 update -q &&
      apt-get -o DPkg::Lock::Timeout=300 install -y -q "${need[@]}"; } >/tmp/tw-apt.$$.log 2>&1 \
        || { tail -n 20 /tmp/tw-apt.$$.log >&2; rm -f /tmp/tw-apt.$$.log
             fail image-builds "could not install ${need[*]}"; summary; exit 1; }
    rm -f /tmp/tw-apt.$$.log
fi

# ---- podman environment, lock, cleanup --------------------------------------------------------
TMP=$(mktemp -d /tmp/tw-container.XXXXXX)
# shellcheck source=tests/container/podman-env.sh
. "$HERE/podman-env.sh"
tw_podman_env "$TMP/conf"
LOG=$TMP/log
mkdir -p "$LOG"
PREFIX=twtest
IMAGE=timewarp:ci-test
IPFWD_BEFORE=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo 1)

# One run at a time owns the cached store.
exec 9>"$TW_CACHE/lock"
flock -w 900 9 || { fail image-builds "another container suite holds $TW_CACHE/lock"; summary; exit 1; }

remove_test_objects() {
    local c
    for c in $(podman ps -a --format '{{.Names}}' 2>/dev/null | grep "^$PREFIX" || true); do
        podman rm -f -v -t 0 "$c" >/dev/null 2>&1
    done
    podman pod rm -f -a >/dev/null 2>&1
    podman volume prune -f >/dev/null 2>&1   # the store is this suite's own: no one else's volumes
    for c in $(podman network ls --format '{{.Name}}' 2>/dev/null | grep "^$PREFIX" || true); do
        podman network rm -f "$c" >/dev/null 2>&1
    done
}
cleanup() {
    local p
    for p in $(jobs -p); do kill "$p" 2>/dev/null; done   # this shell's own jobs still running
    (cd "$ROOT/docker" && TIMEWARP_PORT=${COMPOSE_PORT:-8000} timeout 60 podman-compose -p "$PREFIX" \
        -f docker-compose.yml down -v -t 1 >/dev/null 2>&1)
    remove_test_objects
    # netavark switches IP forwarding on for its bridge; put the host back as it was.
    [ "$IPFWD_BEFORE" = 0 ] && echo 0 > /proc/sys/net/ipv4/ip_forward 2>/dev/null
    [ -n "${TW_KEEP_LOGS:-}" ] && mkdir -p "$TW_KEEP_LOGS" && cp -r "$LOG"/. "$TW_KEEP_LOGS"/
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${TW_RESET_CACHE:-0}" = 1 ] || [ "$(du -sm "$TW_CACHE/containers" | cut -f1)" -gt 6000 ]; then
    info "resetting the cached image store"
    podman system reset -f >/dev/null 2>&1
    rm -f "$TW_CACHE"/debian-bookworm-slim-*.tar
fi
remove_test_objects   # leftovers of a run that was killed before its trap ran
: > "$TW_RUNSTATE/events.log"   # podman's event log (no journald here) would only grow

# A port nobody listens on, below the kernel's ephemeral range: ports handed out for outgoing
# connections and for other programs' bind(0) would otherwise collide with a port published
# many seconds after it was chosen.
free_port() {
    local p lo
    lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
    [ "$lo" -gt 12000 ] 2>/dev/null || lo=32768
    for _ in $(seq 100); do
        p=$((10000 + RANDOM % (lo - 10000)))
        [ -z "$(ss -Htln "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
    done
    return 1
}

# http METHOD URL [JSON] -> sets CODE and BODY
http() {
    local args=(-s -m 10 -o "$TMP/body" -w '%{http_code}' -X "$1" "$2")
    [ $# -ge 3 ] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    CODE=$(curl "${args[@]}" 2>/dev/null) || CODE=000
    BODY=$(cat "$TMP/body" 2>/dev/null)
}

wait_http_ok() {   # URL SECONDS
    local end=$(( $(date +%s) + $2 ))
    while [ "$(date +%s)" -lt "$end" ]; do
        http GET "$1"; [ "$CODE" = 200 ] && return 0
        sleep 0.3
    done
    return 1
}

# No systemd here, so nothing schedules health checks: run them until one passes.
wait_healthy() {   # CONTAINER SECONDS
    local end=$(( $(date +%s) + $2 ))
    while [ "$(date +%s)" -lt "$end" ]; do
        podman healthcheck run "$1" >/dev/null 2>&1 && return 0
        [ "$(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] || return 1
        sleep 1
    done
    return 1
}

logs_of() { podman logs "$1" 2>&1 | grep -v 'systemd connection' | tail -n 8 | sed 's/^/     | /'; }

secs_since() {   # START_NS [END_NS, default now] -> seconds with two decimals
    awk -v a="$1" -v b="${2:-$(date +%s%N)}" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'
}

rand_video_id() { head -c 64 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 11; }

# api_flow BASE -> 0 and CLIP_ID set, or 1 and WHY set: contributor, submission, clip, listing.
api_flow() {
    local base=$1 ctr vid
    vid=$(rand_video_id)
    http POST "$base/contributors/" '{"display_name":"container suite"}'
    [ "$CODE" = 201 ] || { WHY="POST /contributors -> $CODE $BODY"; return 1; }
    ctr=$(jq -r .id <<<"$BODY")
    http POST "$base/submissions/" "{\"contributor_id\":\"$ctr\",\"raw_youtube_input\":\"https://youtu.be/$vid\",\"raw_date_input\":\"2024-05-12\"}"
    [ "$CODE" = 201 ] && [ "$(jq -r .status <<<"$BODY")" = accepted ] \
        || { WHY="POST /submissions -> $CODE $BODY"; return 1; }
    CLIP_ID=$(jq -r .clip_id <<<"$BODY")
    http GET "$base/clips/$CLIP_ID"
    [ "$CODE" = 200 ] && [ "$(jq -r .youtube_video_id <<<"$BODY")" = "$vid" ] \
        || { WHY="GET /clips/$CLIP_ID -> $CODE $BODY"; return 1; }
    http GET "$base/clips?from=2024-05-12&to=2024-05-12&limit=200"
    [ "$CODE" = 200 ] && jq -e --arg id "$CLIP_ID" '.items | map(.id) | index($id) != null' <<<"$BODY" >/dev/null \
        || { WHY="GET /clips?from=..&to=.. -> $CODE, clip missing"; return 1; }
    return 0
}

# ---- base image: the debian:bookworm-slim stand-in -----------------------------------------
base_key=$( { cat "$HERE/base-image.sh"; cat /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
              /etc/apt/sources.list.d/*.list 2>/dev/null; } | sha256sum | cut -c1-16)
base_tar=$TW_CACHE/debian-bookworm-slim-$base_key.tar
if ! podman image exists "timewarp-ci-base:$base_key" ||
   [ "$(podman image inspect -f '{{.Id}}' debian:bookworm-slim 2>/dev/null)" != \
     "$(podman image inspect -f '{{.Id}}' "timewarp-ci-base:$base_key" 2>/dev/null)" ]; then
    if [ ! -s "$base_tar" ]; then
        t=$(date +%s)
        rm -f "$TW_CACHE"/debian-bookworm-slim-*.tar
        bash "$HERE/base-image.sh" "$base_tar" 2>"$LOG/base.log" \
            || { cat "$LOG/base.log" >&2; fail image-builds "debootstrap of the base image failed"; summary; exit 1; }
        info "debootstrapped the debian:bookworm-slim stand-in in $(( $(date +%s) - t )) s"
    fi
    podman import --change 'CMD ["bash"]' "$base_tar" debian:bookworm-slim >"$LOG/import.log" 2>&1 &&
        podman tag debian:bookworm-slim "timewarp-ci-base:$base_key" \
        || { cat "$LOG/import.log" >&2; fail image-builds "podman import failed"; summary; exit 1; }
    # Images of older base keys only hold the store's space now.
    for old in $(podman images --format '{{.Repository}}:{{.Tag}}' | grep '/timewarp-ci-base:' | grep -v ":$base_key$"); do
        podman rmi "$old" >/dev/null 2>&1
    done
fi

# ---- build -----------------------------------------------------------------------------------
# The postgres:15 stand-in (test only) builds alongside: both spend most of their time waiting
# on package downloads. Warm, both come from the layer cache in about a second.
( t=$(date +%s)
  timeout 600 podman build --pull=never --format docker -t postgres:15 "$HERE/postgres-standin" \
      >"$LOG/pg-build.log" 2>&1; rc=$?
  echo $(( $(date +%s) - t )) > "$TMP/pg-build.s"; exit $rc ) &
pgbuild=$!
# The database CA bundle comes in at build time (--build-arg DB_CA_BUNDLE): here one this run
# makes, as offline builds do; real images get Amazon's (certs/README.md). It must sit inside
# the build context; certs/*.pem is git-ignored.
CA_PEM=certs/ci-test-ca-$$.pem
openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout /dev/null \
    -out "$ROOT/$CA_PEM" -days 2 -subj "/CN=Time Warp container suite CA" >"$LOG/ca.log" 2>&1 \
    || { cat "$LOG/ca.log" >&2; fail image-builds "openssl could not make the test CA"; summary; exit 1; }
trap 'rm -f "$ROOT/$CA_PEM"; cleanup' EXIT
t=$(date +%s%N)
if timeout 900 podman build --pull=never --format docker -f docker/Dockerfile -t "$IMAGE" \
        --build-arg DB_CA_BUNDLE="$CA_PEM" . >"$LOG/build.log" 2>&1; then
    BUILD_S=$(secs_since "$t")
    pass image-builds "podman build --format docker in ${BUILD_S} s"
else
    tail -n 30 "$LOG/build.log" | sed 's/^/     | /'
    fail image-builds "podman build failed"
    wait "$pgbuild"; summary; exit 1
fi
# Name the build stage too (a cache hit, about a second), so the final prune keeps its layers:
# untagged, the -dev package layer would be pruned and downloaded again next run.
podman build --pull=never --format docker --target build -t timewarp-ci-builder:latest \
    -f docker/Dockerfile . >>"$LOG/build.log" 2>&1
wait "$pgbuild"; pg_rc=$?
[ $pg_rc = 0 ] || { tail -n 20 "$LOG/pg-build.log" | sed 's/^/     | /'; info "could not build the postgres:15 stand-in"; }
info "postgres:15 stand-in built alongside in $(cat "$TMP/pg-build.s" 2>/dev/null || echo '?') s"

# ---- image metadata ----------------------------------------------------------------------------
baked=$(podman run --rm --entrypoint /bin/cat "$IMAGE" /etc/timewarp/db-ca.pem 2>/dev/null)
rootcert=$(podman image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$IMAGE" | grep '^PGSSLROOTCERT=')
if [ "$baked" = "$(cat "$ROOT/$CA_PEM")" ] && [ "$rootcert" = PGSSLROOTCERT=/etc/timewarp/db-ca.pem ]; then
    pass db-ca-bundle-baked "the build argument's CA is /etc/timewarp/db-ca.pem, named by PGSSLROOTCERT"
else
    fail db-ca-bundle-baked "image CA differs from $CA_PEM or PGSSLROOTCERT is '$rootcert'"
fi
size=$(podman image inspect -f '{{.Size}}' "$IMAGE")
base_size=$(podman image inspect -f '{{.Size}}' debian:bookworm-slim)
added=$((size - base_size))
mb() { echo "$(( $1 / 1000000 )).$(( $1 % 1000000 / 100000 )) MB"; }
[ "$size" -le 100000000 ] && pass image-size-le-100MB "$(mb "$size")" || fail image-size-le-100MB "$(mb "$size")"
[ "$added" -le 25000000 ] && pass added-layers-le-25MB "$(mb "$added") over the base's $(mb "$base_size")" \
    || fail added-layers-le-25MB "$(mb "$added")"

leftovers=$(podman run --rm --entrypoint /bin/sh "$IMAGE" -c \
    'for t in cc gcc make ld; do command -v $t; done; find /var/lib/apt/lists -type f' 2>/dev/null)
[ -z "$leftovers" ] && pass no-compiler-or-apt-lists || fail no-compiler-or-apt-lists "${leftovers//$'\n'/ }"

user=$(podman image inspect -f '{{.Config.User}}' "$IMAGE")
uid=$(podman run --rm --entrypoint /usr/bin/id "$IMAGE" -u 2>/dev/null)
case "$user" in ''|root|0|0:*|root:*) fail runs-as-non-root "USER is '$user'" ;;
    *) [ "$uid" = 10001 ] && pass runs-as-non-root "USER $user, id -u = $uid" || fail runs-as-non-root "id -u = $uid" ;;
esac
podman image inspect -f '{{json .Config.ExposedPorts}}' "$IMAGE" | grep -q '"8000/tcp"' \
    && pass port-8000-exposed || fail port-8000-exposed "$(podman image inspect -f '{{json .Config.ExposedPorts}}' "$IMAGE")"
hc=$(podman image inspect -f '{{json .Config.Healthcheck}}' "$IMAGE")
jq -e '.Test == ["CMD","/usr/local/bin/timewarp","healthcheck"]' <<<"$hc" >/dev/null 2>&1 \
    && pass healthcheck-declared || fail healthcheck-declared "$hc"
meta=$(podman image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.StopSignal}}' "$IMAGE")
[ "$meta" = '["/usr/local/bin/timewarp"] ["serve"] SIGTERM' ] && pass entrypoint-cmd-stopsignal \
    || fail entrypoint-cmd-stopsignal "$meta"

# ---- SQLite, read-only root filesystem -------------------------------------------------------
info "image checks done; SQLite containers"
# --read-only-tmpfs=false: not even /tmp or /run is writable, only the /data volume.
RO=(--read-only --read-only-tmpfs=false)
podman volume create "$PREFIX-data" >/dev/null
podman volume create "$PREFIX-fresh" >/dev/null
if podman run --rm "${RO[@]}" -v "$PREFIX-data:/data" "$IMAGE" migrate >"$LOG/migrate1.log" 2>&1; then
    pass migrate-one-off-sqlite "podman run --rm IMAGE migrate"
else
    fail migrate-one-off-sqlite "exit $?: $(grep -v systemd "$LOG/migrate1.log" | tail -n 3)"
fi
if podman run --rm "${RO[@]}" -v "$PREFIX-data:/data" "$IMAGE" migrate >"$LOG/migrate2.log" 2>&1; then
    pass migrate-is-idempotent
else
    fail migrate-is-idempotent "second run exited $?: $(grep -v systemd "$LOG/migrate2.log" | tail -n 3)"
fi

# serve on a volume nobody migrated: the schema must not appear by itself.
P=$(free_port)
podman run -d --name "$PREFIX-fresh" "${RO[@]}" -v "$PREFIX-fresh:/data" -p "127.0.0.1:$P:8000" "$IMAGE" >/dev/null 2>&1
if wait_http_ok "http://127.0.0.1:$P/health/" 20; then
    http GET "http://127.0.0.1:$P/clips/"
    case "$CODE" in 5??) pass serve-does-not-migrate "GET /clips/ on an unmigrated database -> $CODE" ;;
        *) fail serve-does-not-migrate "GET /clips/ on an unmigrated database -> $CODE $BODY" ;; esac
else
    fail serve-does-not-migrate "server did not come up on an empty volume"; logs_of "$PREFIX-fresh"
fi
podman rm -f -v -t 0 "$PREFIX-fresh" >/dev/null 2>&1

P=$(free_port)
if podman run -d --name "$PREFIX-sqlite" "${RO[@]}" -v "$PREFIX-data:/data" -p "127.0.0.1:$P:8000" \
        "$IMAGE" >/dev/null 2>"$LOG/run-sqlite.log" && wait_http_ok "http://127.0.0.1:$P/health/" 20; then
    if api_flow "http://127.0.0.1:$P"; then
        pass read-only-rootfs-serves-api-sqlite "--read-only, contributor+submission+clip+listing"
    else
        fail read-only-rootfs-serves-api-sqlite "$WHY"; logs_of "$PREFIX-sqlite"
    fi
    if podman healthcheck run "$PREFIX-sqlite" >/dev/null 2>&1 &&
       [ "$(podman inspect -f '{{.State.Health.Status}}' "$PREFIX-sqlite" 2>/dev/null)" = healthy ]; then
        pass healthcheck-passes "podman healthcheck run -> healthy"
    else
        fail healthcheck-passes "$(podman healthcheck run "$PREFIX-sqlite" 2>&1 | grep -v systemd | tail -n 2)"
    fi
else
    fail read-only-rootfs-serves-api-sqlite "server did not answer /health/ with 200 in 20 s"
    fail healthcheck-passes "no running container"
    cat "$LOG/run-sqlite.log" >&2; logs_of "$PREFIX-sqlite"
fi

# ---- SIGTERM with a request in flight -----------------------------------------------------
# The client sends the headers and half the body, then `podman stop -t 10` sends SIGTERM; once
# the server shows it got the signal (/health/ stops answering 200: it stopped accepting, or is
# draining), the client sends the rest of the body. The response must still arrive, and the
# server exit 0 within a few seconds.
slow_request() {   # PORT OUTFILE GOFILE
    local body='{"display_name":"in flight during SIGTERM"}'
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'POST /contributors/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n' \
        "${#body}" >&3
    printf '%s' "${body:0:12}" >&3
    for _ in $(seq 150); do [ -e "$3" ] && break; sleep 0.1; done
    printf '%s' "${body:12}" >&3
    timeout 15 cat <&3 >"$2"
    exec 3>&-
}
podman rm -f -t 0 "$PREFIX-sqlite" >/dev/null 2>&1
P=$(free_port)
if podman run -d --name "$PREFIX-sigterm" "${RO[@]}" -v "$PREFIX-data:/data" -p "127.0.0.1:$P:8000" \
        "$IMAGE" >/dev/null 2>&1 && wait_http_ok "http://127.0.0.1:$P/health/" 20; then
    slow_request "$P" "$TMP/slow.out" "$TMP/go" & slowpid=$!
    sleep 0.5
    t=$(date +%s%N)
    timeout 30 podman stop -t 10 "$PREFIX-sigterm" >/dev/null 2>&1 & stoppid=$!
    seen=
    for _ in $(seq 100); do
        http GET "http://127.0.0.1:$P/health/"
        [ "$CODE" != 200 ] && { seen=$(date +%s%N); break; }
        sleep 0.1
    done
    touch "$TMP/go"
    wait "$stoppid"; stop_rc=$?
    stop_s=$(secs_since "$t")
    wait "$slowpid"
    status=$(head -n 1 "$TMP/slow.out" 2>/dev/null | tr -d '\r')
    if [ -z "$seen" ]; then
        fail sigterm-inflight-request-completed "/health/ still 200 10 s after podman stop"
    else
        case "$status" in
            "HTTP/1.1 201"*) pass sigterm-inflight-request-completed "body finished after SIGTERM was seen -> $status" ;;
            *) fail sigterm-inflight-request-completed "client got '${status:-nothing}'"; logs_of "$PREFIX-sigterm" ;;
        esac
    fi
    # When the server itself exited (conmon records it), counted from when it showed the signal:
    # podman's own start-up and teardown take seconds on a loaded machine and are not the server's.
    read -r fin code < <(podman inspect -f '{{.State.FinishedAt.UnixNano}} {{.State.ExitCode}}' "$PREFIX-sigterm")
    exit_s=$(secs_since "${seen:-$t}" "$fin")
    if [ "$stop_rc" = 0 ] && [ "$code" = 0 ] && awk -v s="$exit_s" 'BEGIN { exit !(s <= 5) }'; then
        pass sigterm-exits-fast-with-0 "exit code 0, ${exit_s} s after the signal was seen; podman stop took ${stop_s} s"
    else
        fail sigterm-exits-fast-with-0 "exit code $code, ${exit_s} s after the signal was seen (limit 5); podman stop rc $stop_rc in ${stop_s} s"
        logs_of "$PREFIX-sigterm"
    fi
else
    fail sigterm-inflight-request-completed "server did not start"
    fail sigterm-exits-fast-with-0 "server did not start"
fi
podman rm -f -v -t 0 "$PREFIX-sigterm" >/dev/null 2>&1

# ---- PostgreSQL reachable from the container ----------------------------------------------
info "PostgreSQL containers"
NET=$PREFIX-net
PGURL="postgres://tw:tw-secret@db:5432/timewarp"
PGENV=(-e "DATABASE_URL=$PGURL" -e "SECRET_KEY=container-suite-secret-0123456789abcdef")
podman network create "$NET" >/dev/null 2>&1
podman run -d --name "$PREFIX-pg" --network "$NET" --network-alias db -e POSTGRES_USER=tw \
    -e POSTGRES_PASSWORD=tw-secret -e POSTGRES_DB=timewarp postgres:15 >/dev/null 2>"$LOG/pg.log"
pg_up=1
for _ in $(seq 60); do
    podman exec "$PREFIX-pg" pg_isready -q -h 127.0.0.1 -U tw -d timewarp 2>/dev/null && { pg_up=0; break; }
    sleep 0.5
done
if [ $pg_up != 0 ]; then
    fail postgres-migrate-one-off "postgres:15 stand-in did not become ready"; logs_of "$PREFIX-pg"
    fail postgres-serves-api "no database"
else
    if podman run --rm --network "$NET" "${PGENV[@]}" "$IMAGE" migrate >"$LOG/pgmig.log" 2>&1 &&
       podman run --rm --network "$NET" "${PGENV[@]}" "$IMAGE" migrate >>"$LOG/pgmig.log" 2>&1; then
        pass postgres-migrate-one-off "twice, via the network alias db"
    else
        fail postgres-migrate-one-off "$(grep -v systemd "$LOG/pgmig.log" | tail -n 3)"
    fi
    P=$(free_port)
    if podman run -d --name "$PREFIX-pgapp" "${RO[@]}" --network "$NET" "${PGENV[@]}" \
            -p "127.0.0.1:$P:8000" "$IMAGE" >/dev/null 2>&1 &&
       wait_http_ok "http://127.0.0.1:$P/health/" 20 && api_flow "http://127.0.0.1:$P"; then
        pass postgres-serves-api "--read-only, no /data volume, contributor+submission+clip+listing"
    else
        fail postgres-serves-api "${WHY:-health never 200}"; logs_of "$PREFIX-pgapp"
    fi
fi
podman rm -f -v -t 0 "$PREFIX-pgapp" "$PREFIX-pg" >/dev/null 2>&1
podman network rm -f "$NET" >/dev/null 2>&1

# ---- compose stack -----------------------------------------------------------------------
# docker/docker-compose.yml is used unchanged. podman-compose 1.0.3 (Debian bookworm) ignores
# depends_on conditions and nothing schedules health checks without systemd, so the test walks
# the dependency order the file declares: db healthy -> migrate exited 0 -> app healthy.
info "compose stack"
COMPOSE_PORT=$(free_port)
export TIMEWARP_PORT=$COMPOSE_PORT
compose() { echo "== [$(( $(date +%s) - T0 )) s] podman-compose $*" >>"$LOG/compose.log"
           (cd "$ROOT/docker" && timeout 600 podman-compose -p "$PREFIX" -f docker-compose.yml "$@") >>"$LOG/compose.log" 2>&1; }
compose_up() {   # [--build]
    compose up -d "$@" db || { WHY="podman-compose up db failed"; return 1; }
    wait_healthy "${PREFIX}_db_1" 90 || { WHY="db never healthy"; logs_of "${PREFIX}_db_1"; return 1; }
    compose up -d "$@" migrate || { WHY="podman-compose up migrate failed"; return 1; }
    local rc
    rc=$(timeout 60 podman wait "${PREFIX}_migrate_1" 2>/dev/null)
    [ "$rc" = 0 ] || { WHY="migrate exited '$rc'"; logs_of "${PREFIX}_migrate_1"; return 1; }
    compose up -d app || { WHY="podman-compose up app failed"; return 1; }
    wait_healthy "${PREFIX}_app_1" 30 || { WHY="app never healthy"; logs_of "${PREFIX}_app_1"; return 1; }
}
B="http://127.0.0.1:$COMPOSE_PORT"
WHY=
if compose_up --build && api_flow "$B"; then
    pass compose-stack-serves-api "podman-compose up --build; db healthy, migrate 0, app healthy"
    clip=$CLIP_ID
    compose down -t 5
    if [ -n "$(podman ps -a -q --filter "name=^${PREFIX}_")" ]; then
        fail compose-restart-keeps-clip "containers left after down"
    elif compose_up && http GET "$B/clips/$clip" && [ "$CODE" = 200 ]; then
        pass compose-restart-keeps-clip "down + up, GET /clips/$clip -> 200"
    else
        fail compose-restart-keeps-clip "${WHY:-GET /clips/$clip -> $CODE $BODY}"
        logs_of "${PREFIX}_app_1"; logs_of "${PREFIX}_db_1"
    fi
else
    fail compose-stack-serves-api "$WHY"; tail -n 15 "$LOG/compose.log" | sed 's/^/     | /'
    fail compose-restart-keeps-clip "stack never came up"
fi
compose down -v -t 5
left=$( { podman ps -a -q --filter "name=^${PREFIX}_"; podman volume ls -q | grep "^${PREFIX}_"; } 2>/dev/null)
[ -z "$left" ] && pass compose-down-removes-stack "down -v: no containers, no named volume" \
    || fail compose-down-removes-stack "left: ${left//$'\n'/ }"

# ---- report ------------------------------------------------------------------------------
# Images superseded by this run's builds (older app images, older build stages) go; the tagged
# base, build stage, app image and postgres stand-in stay for the next run's layer cache.
podman image prune -f >/dev/null 2>&1
info "image $IMAGE: $(mb "$size") (base $(mb "$base_size"), added $(mb "$added")); build ${BUILD_S} s"
summary
[ "$FAILED" = 0 ]
