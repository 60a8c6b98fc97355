#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2001 # the conditions are eval'd later, in the sandbox's variables
# Script tests: scripts/deploy.sh, scripts/migrate.sh and scripts/test-image.sh run for real
# against stand-ins for aws, docker, git and curl (tests/scripts/bin: they log every call to
# $FAKE_DIR/calls and answer as the real tools would; FAKE_* variables pick failures).
# Each case prints "ok - NAME" or "not ok - NAME: why"; the last line is "N passed, M failed".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
ROOT=$(pwd)
BIN=$ROOT/tests/scripts/bin
WORK=$(mktemp -d "${TMPDIR:-/tmp}/timewarp-scripts.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
passed=0 failed=0 n=0

# sandbox VAR=VALUE... -- CMD...: run CMD with the stand-ins first on PATH; sets RC, OUT, ERR, CALLS.
sandbox() {
  local env=()
  while [[ $1 != -- ]]; do env+=("$1"); shift; done; shift
  DIR=$WORK/run$((n++)); mkdir -p "$DIR"; : >"$DIR/calls"
  env -i PATH="$BIN:/usr/bin:/bin" HOME="$DIR" FAKE_DIR="$DIR" FAKE_SCENARIO=ok "${env[@]}" \
    timeout 120 bash "$@" >"$DIR/out" 2>"$DIR/err"
  RC=$?; OUT=$(cat "$DIR/out"); ERR=$(cat "$DIR/err"); CALLS=$(cat "$DIR/calls")
}
check() { # NAME CONDITION-COMMAND... (a failing condition fails the case)
  local name=$1; shift
  if "$@"; then passed=$((passed + 1)); echo "ok - $name"
  else failed=$((failed + 1)); echo "not ok - $name: rc=$RC"; sed 's/^/    | /' <<<"$ERR" | tail -n 8; fi
}
has_call() { grep -Eq -- "$1" <<<"$CALLS"; }
no_call() { ! grep -Eq -- "$1" <<<"$CALLS"; }
says() { grep -Eq -- "$1" <<<"$ERR$OUT"; }

# ---- deploy.sh build: the platform the tasks run, and only a clean tree under its own commit
sandbox -- scripts/deploy.sh --tag f00dfeed staging build
check "build: docker build --platform linux/amd64 of a clean tree at its HEAD tag" \
  eval '[[ $RC == 0 ]] && has_call "^docker build --platform linux/amd64 -f $ROOT/docker/Dockerfile -t timewarp:f00dfeed $ROOT\$"'

sandbox FAKE_GIT_STATUS=" M src/main.c" -- scripts/deploy.sh --tag f00dfeed staging build push
check "build: refuses a working tree with changes, builds and pushes nothing" \
  eval '[[ $RC != 0 ]] && says "working tree has changes" && says "M src/main.c" && no_call "^docker (build|push)"'

sandbox FAKE_GIT_STATUS="?? notes.txt" -- scripts/deploy.sh --tag f00dfeed staging build
check "build: refuses untracked files too (they would be in the build context)" eval '[[ $RC != 0 ]] && no_call "^docker build"'

sandbox FAKE_GIT_HEAD=cafebabe -- scripts/deploy.sh --tag f00dfeed staging build
check "build: refuses a tag that is not the checked-out commit" \
  eval '[[ $RC != 0 ]] && says "tag f00dfeed is not the checked-out commit cafebabe" && no_call "^docker build"'

sandbox FAKE_GIT_HEAD=cafebabe -- scripts/deploy.sh staging build
check "build: without --tag, the tag is the HEAD commit" eval '[[ $RC == 0 ]] && has_call "-t timewarp:cafebabe "'

# ---- rollback: the previous revision with a DIFFERENT image
sandbox FAKE_IMAGES="8=newtag 7=newtag 6=oldtag 5=oldertag" -- scripts/deploy.sh rollback staging
check "rollback: skips older revisions with the running image (8 and 7 run newtag) and goes to 6" \
  eval '[[ $RC == 0 ]] && has_call "^aws ecs update-service .*--task-definition arn:.*timewarp-staging-serve:6 " && has_call "^aws ecs list-task-definitions --family-prefix timewarp-staging-serve --status ACTIVE --sort DESC"'

sandbox FAKE_IMAGES="8=newtag 7=newtag 6=newtag 5=newtag" -- scripts/deploy.sh rollback staging
check "rollback: fails clearly, and changes nothing, when no older revision runs another image" \
  eval '[[ $RC != 0 ]] && says "runs another image than .*timewarp:newtag" && no_call "^aws ecs update-service"'

sandbox FAKE_IMAGES="8=newtag 3=oldtag" -- scripts/deploy.sh rollback staging arn:aws:ecs:us-east-1:123456789012:task-definition/timewarp-staging-serve:3
check "rollback: an explicit revision is used as given, then waited for and verified" \
  eval '[[ $RC == 0 ]] && has_call "update-service .*timewarp-staging-serve:3 " && has_call "^aws ecs wait services-stable" && has_call "^curl .*/health/\$"'

# ---- migrate.sh: one-off tasks run where the service runs
sandbox FAKE_SCENARIO=small -- scripts/migrate.sh staging
check "migrate: a stage without NAT runs the task in its subnets with a public IP" \
  eval '[[ $RC == 0 ]] && has_call "awsvpcConfiguration=\\{subnets=\\[subnet-a,subnet-b\\],securityGroups=\\[sg-123\\],assignPublicIp=ENABLED\\}"'
sandbox -- scripts/migrate.sh staging
check "migrate: private subnets without a public IP otherwise" eval '[[ $RC == 0 ]] && has_call "assignPublicIp=DISABLED"'

# ---- test-image.sh: the checks the pipeline runs between build and push
sandbox -- scripts/test-image.sh timewarp:f00dfeed
check "test-image: all seven checks pass on a good image" eval '[[ $RC == 0 ]] && [[ $(tail -n 1 <<<"$OUT") == "7 passed, 0 failed" ]]'
check "test-image: migrate and serve run with a read-only root filesystem and only /data writable" \
  eval 'has_call "^docker run --rm --read-only -v timewarp-image-test-[0-9]+-data:/data .* timewarp:f00dfeed migrate\$" && has_call "^docker run -d --name timewarp-image-test-[0-9]+ --read-only -v .*-p 127.0.0.1::8000 timewarp:f00dfeed serve\$"'
check "test-image: healthcheck in the container, POST then GET, SIGTERM then wait" \
  eval 'has_call "^docker exec timewarp-image-test-[0-9]+ /usr/local/bin/timewarp healthcheck\$" && has_call "-X POST .*/submissions/" && has_call "-X GET .*/submissions/sub_1" && has_call "^docker kill --signal TERM " && has_call "^docker wait "'
check "test-image: removes its container and volume" eval 'has_call "^docker rm -f timewarp-image-test-" && has_call "^docker volume rm -f timewarp-image-test-"'

sandbox FAKE_PLATFORM=linux/arm64 -- scripts/test-image.sh timewarp:f00dfeed
check "test-image: an arm64 image fails (the tasks are X86_64)" eval '[[ $RC != 0 ]] && says "FAIL platform-linux-amd64: image is linux/arm64"'
sandbox FAKE_MIGRATE_EXIT=3 -- scripts/test-image.sh timewarp:f00dfeed
check "test-image: a migration that fails on the read-only root fs fails and stops" \
  eval '[[ $RC != 0 ]] && says "FAIL migrate-read-only-rootfs" && no_call "^docker run -d"'
sandbox FAKE_HEALTHCHECK_EXIT=1 -- scripts/test-image.sh timewarp:f00dfeed
check "test-image: a failing container healthcheck fails" eval '[[ $RC != 0 ]] && says "FAIL healthcheck"'
sandbox FAKE_POST_CODE=500 -- scripts/test-image.sh timewarp:f00dfeed
check "test-image: a POST that does not answer 201 fails" eval '[[ $RC != 0 ]] && says "FAIL post-submission: 500"'
sandbox FAKE_EXIT_CODE=137 -- scripts/test-image.sh timewarp:f00dfeed
check "test-image: a server that does not exit 0 on SIGTERM fails" eval '[[ $RC != 0 ]] && says "FAIL sigterm-exit-0: exit status 137"'
sandbox -- scripts/test-image.sh
check "test-image: no image argument is a usage error (exit 2)" eval '[[ $RC == 2 ]]'

# ---- static checks
check "shellcheck: deploy.sh, migrate.sh, test-image.sh and the stand-ins" \
  eval 'command -v shellcheck >/dev/null && shellcheck -x scripts/deploy.sh scripts/migrate.sh scripts/test-image.sh tests/scripts/bin/* tests/scripts/run.sh'

echo "$passed passed, $failed failed"
((failed == 0))
