#!/usr/bin/env bash
# Test a built Time Warp image the way ECS will run it, before it is pushed: linux/amd64, a
# read-only root filesystem (only the /data volume writable), the one-off migrate, serve, the
# container health check, a POST and a GET through the published port, and SIGTERM -> exit 0.
# Used by .github/workflows/deploy.yml between `deploy.sh build` and `deploy.sh push`.
#   scripts/test-image.sh timewarp:TAG            (DOCKER=podman to use podman instead)
# Prints PASS/FAIL per check and a last line "N passed, M failed"; exits 1 on any failure.
set -euo pipefail

usage() { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; }
[[ ${1:-} == -h || ${1:-} == --help ]] && { usage; exit 0; }
[[ $# -eq 1 ]] || { printf 'error: give exactly one image\n\n' >&2; usage >&2; exit 2; }

IMAGE=$1
DOCKER=${DOCKER:-docker}
PLATFORM=linux/amd64
NAME=timewarp-image-test-$$
VOLUME=$NAME-data
STOP_SECONDS=${STOP_SECONDS:-30} # drain (set to 1 s below) + in-flight shutdown, with a margin
passed=0 failed=0

pass() { passed=$((passed + 1)); echo "PASS $1${2:+ ($2)}"; }
fail() { failed=$((failed + 1)); echo "FAIL $1${2:+: $2}"; }
finish() {
  echo "$passed passed, $failed failed"
  ((failed == 0))
}
cleanup() {
  "$DOCKER" rm -f "$NAME" >/dev/null 2>&1 || true
  "$DOCKER" volume rm -f "$VOLUME" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# Like ECS: read-only root filesystem, non-root user from the image, writable /data only.
RUN=(--read-only -v "$VOLUME:/data" -e TIMEWARP_ENV=development -e TIMEWARP_DRAIN_SECONDS=1)

platform=$("$DOCKER" image inspect --format '{{.Os}}/{{.Architecture}}' "$IMAGE" 2>&1) || { fail image-exists "$platform"; finish; exit 1; }
if [[ $platform == "$PLATFORM" ]]; then pass platform-linux-amd64; else fail platform-linux-amd64 "image is $platform, the tasks run $PLATFORM"; fi

"$DOCKER" volume create "$VOLUME" >/dev/null
if out=$("$DOCKER" run --rm "${RUN[@]}" "$IMAGE" migrate 2>&1); then pass migrate-read-only-rootfs; else fail migrate-read-only-rootfs "exit $?: ${out: -300}"; finish; exit 1; fi

if ! cid=$("$DOCKER" run -d --name "$NAME" "${RUN[@]}" -p 127.0.0.1::8000 "$IMAGE" serve 2>&1); then
  fail serve-starts "$cid"; finish; exit 1
fi
hostport=$("$DOCKER" port "$NAME" 8000/tcp | head -n 1)
base="http://${hostport/0.0.0.0/127.0.0.1}"

# request METHOD PATH [BODY] -> CODE and BODY set
request() {
  local out
  out=$(curl --silent --show-error --max-time 5 -X "$1" -H 'Content-Type: application/json' \
    ${3:+--data "$3"} --write-out '\n%{http_code}' "$base$2" 2>&1) || { CODE=000; BODY=$out; return 0; }
  CODE=${out##*$'\n'}
  BODY=${out%$'\n'*}
}

up=0
for _ in $(seq 1 50); do
  request GET /health/
  [[ $CODE == 200 ]] && { up=1; break; }
  sleep 0.2
done
if ((up)); then pass serve-read-only-rootfs "GET /health/ 200"; else fail serve-read-only-rootfs "GET /health/ -> $CODE $BODY"; fi

if out=$("$DOCKER" exec "$NAME" /usr/local/bin/timewarp healthcheck 2>&1); then pass healthcheck; else fail healthcheck "exit $?: $out"; fi

field() { sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\([^\"]*\)\".*/\1/p" <<<"$2" | head -n 1; }
request POST /contributors/ '{"display_name":"image test"}'
contributor=$(field id "$BODY")
request POST /submissions/ "{\"contributor_id\":\"$contributor\",\"raw_youtube_input\":\"https://youtu.be/dQw4w9WgXcQ\",\"raw_date_input\":\"2024-05-12\"}"
submission=$(field id "$BODY")
if [[ $CODE == 201 && -n $submission ]]; then pass post-submission "201 $submission"; else fail post-submission "$CODE $BODY"; fi
request GET "/submissions/$submission"
if [[ $CODE == 200 && $(field id "$BODY") == "$submission" ]]; then pass get-submission; else fail get-submission "$CODE $BODY"; fi

"$DOCKER" kill --signal TERM "$NAME" >/dev/null
code=$(timeout "$STOP_SECONDS" "$DOCKER" wait "$NAME" 2>&1) || code="did not exit within ${STOP_SECONDS} s"
if [[ $code == 0 ]]; then pass sigterm-exit-0; else fail sigterm-exit-0 "exit status $code"; fi

finish
