#!/usr/bin/env bash
# Import an archive file (`timewarp export`) into a stage's RDS database as one-off ECS
# tasks, then verify it: the migration path from SQLite to PostgreSQL (docs/DEPLOYMENT.md).
#
# The image has no shell and a task has no stdin, so the file travels in a one-off image
# (the stage's image plus the file, pushed under a unique tag and deleted at the end).
set -euo pipefail

# Helpers (aws_, load_outputs, register_revision, image_of, repository_uri, log, die, need, ...).
# shellcheck source=scripts/deploy.sh
source "$(dirname "${BASH_SOURCE[0]}")/deploy.sh"

usage() {
  cat <<'EOF'
Usage: scripts/import-archive.sh [options] STAGE FILE

Import FILE, made by `timewarp export`, into the database of STAGE (staging or production):
  1. build the stage's migrate image plus FILE (at /import/archive.jsonl) and push it to
     ECR under the tag <base tag>-import-<UTC time>;
  2. run `timewarp migrate`, then `timewarp import /import/archive.jsonl` as one-off tasks
     (all or nothing: a failed import changes nothing);
  3. verify: import the same file again, which must report "0 new": every record of the
     file is then in the database exactly as written (the importer compares every field);
  4. delete the one-off image.
Into a database that already has other records the service keeps serving throughout
(they are kept; a clash stops the import naming the line). Into an empty database the
import locks the tables while it loads (faster: foreign keys and indexes are re-created
at the end), so the service answers 503 until it commits.

Options:
  -t, --tag TAG        base the one-off image on this tag (default: the image of the
                       latest migrate task definition)
      --keep-image     do not delete the one-off image at the end
  -r, --region REGION  AWS region (default: the AWS CLI's)
  -h, --help           show this help
Needs: aws (v2), jq, docker. Credentials as for the AWS CLI.
EOF
}

# Run the migrate task definition TASKDEF with COMMAND (a JSON array); wait; fail unless the
# container exited 0. Prints the task's log lines on stderr.
run_once() {
  local task_definition=$1 command=$2 overrides result task task_id exit_code reason
  overrides=$(jq -cn --arg c "$OUT_ContainerName" --argjson cmd "$command" '{containerOverrides: [{name: $c, command: $cmd}]}')
  local subnets=${OUT_TaskSubnetIds// /}
  log "running $command on $OUT_ClusterName"
  result=$(aws_ ecs run-task --cluster "$OUT_ClusterName" --task-definition "$task_definition" \
    --capacity-provider-strategy capacityProvider=FARGATE,weight=1 --count 1 --started-by timewarp-import \
    --network-configuration "awsvpcConfiguration={subnets=[$subnets],securityGroups=[$OUT_ServiceSecurityGroupId],assignPublicIp=$OUT_TaskAssignPublicIp}" \
    --overrides "$overrides" --output json)
  task=$(jq -r '.tasks[0].taskArn // empty' <<<"$result")
  [[ -n $task ]] || die "run-task started nothing: $(jq -c '.failures' <<<"$result")"
  task_id=${task##*/}
  aws_ ecs wait tasks-stopped --cluster "$OUT_ClusterName" --tasks "$task" || die "task $task_id did not stop in time"
  result=$(aws_ ecs describe-tasks --cluster "$OUT_ClusterName" --tasks "$task" --output json)
  exit_code=$(jq -r --arg c "$OUT_ContainerName" '.tasks[0].containers[] | select(.name == $c) | .exitCode // "none"' <<<"$result")
  reason=$(jq -r '.tasks[0].stoppedReason // ""' <<<"$result")
  TASK_LOG=$(aws_ logs get-log-events --log-group-name "$OUT_LogGroupName" \
    --log-stream-name "migrate/$OUT_ContainerName/$task_id" --limit 60 --no-start-from-head \
    --query 'events[].message' --output text 2>/dev/null | tr '\t' '\n' || true)
  printf '%s\n' "$TASK_LOG" >&2
  [[ $exit_code == 0 ]] || die "$command failed: exit code $exit_code ($reason)"
}

import_main() {
  TAG="" REGION=""
  local stage="" file="" keep=0
  while (($#)); do
    case $1 in
      -h | --help) usage; exit 0 ;;
      -t | --tag) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; TAG=$2; shift 2 ;;
      --keep-image) keep=1; shift ;;
      -r | --region) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; REGION=$2; shift 2 ;;
      -*) usage_error "unknown option $1" ;;
      *) if [[ -z $stage ]]; then stage=$1; elif [[ -z $file ]]; then file=$1; else usage_error "unexpected argument '$1'"; fi; shift ;;
    esac
  done
  [[ -n $stage && -n $file ]] || usage_error "give STAGE and FILE"
  valid_stage "$stage" || usage_error "unknown stage '$stage' (one of: $STAGES)"
  [[ -r $file ]] || usage_error "cannot read $file"
  head -c 200 "$file" | grep -q '"format":"timewarp-archive"' || die "$file does not start with a timewarp export header"
  [[ -z $TAG || $TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}$ ]] || usage_error "invalid image tag '$TAG'"
  need aws jq docker
  load_outputs "$stage"

  local repo base one_off revision records
  repo=$(repository_uri)
  if [[ -n $TAG ]]; then base="$repo:$TAG"; else base=$(image_of "$OUT_MigrateTaskFamily" "$OUT_ContainerName"); fi
  one_off="${base%%:*}:${base##*:}-import-$(date -u +%Y%m%d%H%M%S)"
  IMPORT_CTX=$(mktemp -d) # global: the EXIT trap runs after this function has returned
  trap 'rm -rf "$IMPORT_CTX"' EXIT
  cp "$file" "$IMPORT_CTX/archive.jsonl"
  printf 'FROM %s\nCOPY --chown=10001:10001 archive.jsonl /import/archive.jsonl\n' "$base" >"$IMPORT_CTX/Dockerfile"
  aws_ ecr get-login-password | docker login --username AWS --password-stdin "${repo%%/*}" >/dev/null
  log "building $one_off"
  docker build --quiet -t "$one_off" "$IMPORT_CTX" >/dev/null
  docker push --quiet "$one_off" >/dev/null
  revision=$(register_revision "$OUT_MigrateTaskFamily" "$OUT_ContainerName" "$one_off")
  log "registered $revision"

  records=$(($(wc -l <"$file") - 2))
  run_once "$revision" '["migrate"]'
  run_once "$revision" '["import", "/import/archive.jsonl"]'
  grep -q "$records records read" <<<"$TASK_LOG" || die "the import log does not report $records records"
  log "verifying: importing the same file again must find every record already there"
  run_once "$revision" '["import", "/import/archive.jsonl"]'
  grep -q "$records records read: 0 new, $records already in the archive" <<<"$TASK_LOG" ||
    die "verification failed: the second import did not find all $records records unchanged"
  log "verified: all $records records of $file are in the $stage database as written"

  # The next migrate runs the normal image again; the one-off image holds the archive.
  register_revision "$OUT_MigrateTaskFamily" "$OUT_ContainerName" "$base" >/dev/null
  if ((keep == 0)); then
    aws_ ecr batch-delete-image --repository-name "$REPOSITORY" --image-ids "imageTag=${one_off##*:}" >/dev/null
    log "deleted the one-off image ${one_off##*:}"
  fi
}

import_main "$@"
