#!/usr/bin/env bash
# Run `timewarp migrate` as a one-off ECS task on one stage and wait for it:
# exit 0 only if the migration exited 0. Used by scripts/deploy.sh (step
# "migrate") and by hand for schema rollbacks (--to N).
set -euo pipefail

# Helpers (aws_, load_outputs, register_revision, log, die, ...) live in deploy.sh.
# shellcheck source=scripts/deploy.sh
source "$(dirname "${BASH_SOURCE[0]}")/deploy.sh"

usage() {
  cat <<'EOF'
Usage: scripts/migrate.sh [options] STAGE

Run the migrate task definition of STAGE (staging or production) once, in the
service's subnets and security group (with a public IP where the stage has no NAT), wait until it stops and fail
unless the container exited 0 (its last log lines are printed on failure).

Options:
  -t, --tag TAG        run this image tag (registers a migrate task definition revision
                       with it); default: the latest migrate revision as it is
      --to N           migrate up or down to migration N: runs ["migrate", "--to", "N"]
                       (to undo a migration, use the image that contains it: --tag NEWER_TAG)
  -r, --region REGION  AWS region (default: the AWS CLI's)
  -h, --help           show this help
Needs: aws (v2), jq. Credentials as for the AWS CLI.
EOF
}

# Last log lines of the migrate container, to say why it failed.
show_logs() {
  local task_id=$1
  log "last log lines of migrate/$OUT_ContainerName/$task_id:"
  aws_ logs get-log-events --log-group-name "$OUT_LogGroupName" \
    --log-stream-name "migrate/$OUT_ContainerName/$task_id" --limit 40 --no-start-from-head \
    --query 'events[].message' --output text 2>/dev/null | tr '\t' '\n' >&2 || log "(no logs found)"
}

run_migration() {
  local task_definition=$OUT_MigrateTaskFamily overrides="" task failures task_id result exit_code reason
  if [[ -n $TAG ]]; then
    task_definition=$(register_revision "$OUT_MigrateTaskFamily" "$OUT_ContainerName" "$(repository_uri):$TAG")
    log "registered $task_definition"
  fi
  if [[ -n $TO ]]; then
    overrides=$(jq -cn --arg c "$OUT_ContainerName" --arg n "$TO" '{containerOverrides: [{name: $c, command: ["migrate", "--to", $n]}]}')
  fi

  local subnets=${OUT_TaskSubnetIds// /}
  log "running $task_definition${TO:+ with --to $TO} on $OUT_ClusterName"
  result=$(aws_ ecs run-task --cluster "$OUT_ClusterName" --task-definition "$task_definition" \
    --capacity-provider-strategy capacityProvider=FARGATE,weight=1 --count 1 --started-by timewarp-migrate \
    --network-configuration "awsvpcConfiguration={subnets=[$subnets],securityGroups=[$OUT_ServiceSecurityGroupId],assignPublicIp=$OUT_TaskAssignPublicIp}" \
    ${overrides:+--overrides "$overrides"} --output json)
  failures=$(jq -r '.failures // [] | map("\(.arn // "") \(.reason // "")") | join("; ")' <<<"$result")
  task=$(jq -r '.tasks[0].taskArn // empty' <<<"$result")
  [[ -n $task ]] || die "run-task started nothing: $failures"
  task_id=${task##*/}

  log "waiting for task $task_id to stop"
  aws_ ecs wait tasks-stopped --cluster "$OUT_ClusterName" --tasks "$task" || die "task $task_id did not stop in time"
  result=$(aws_ ecs describe-tasks --cluster "$OUT_ClusterName" --tasks "$task" --output json)
  exit_code=$(jq -r --arg c "$OUT_ContainerName" '.tasks[0].containers[] | select(.name == $c) | .exitCode // "none"' <<<"$result")
  reason=$(jq -r '.tasks[0].stoppedReason // ""' <<<"$result")
  if [[ $exit_code != 0 ]]; then
    show_logs "$task_id"
    die "migration failed: exit code $exit_code ($reason)"
  fi
  log "migration succeeded (task $task_id)"
}

migrate_main() {
  TAG="" REGION="" TO=""
  local stage=""
  while (($#)); do
    case $1 in
      -h | --help) usage; exit 0 ;;
      -t | --tag) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; TAG=$2; shift 2 ;;
      --to) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; TO=$2; shift 2 ;;
      -r | --region) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; REGION=$2; shift 2 ;;
      -*) usage_error "unknown option $1" ;;
      *) [[ -z $stage ]] || usage_error "unexpected argument '$1'"; stage=$1; shift ;;
    esac
  done
  [[ -n $stage ]] || usage_error "missing STAGE"
  valid_stage "$stage" || usage_error "unknown stage '$stage' (one of: $STAGES)"
  [[ -z $TO || $TO =~ ^[0-9]+$ ]] || usage_error "--to needs a migration number, got '$TO'"
  [[ -z $TAG || $TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || usage_error "invalid image tag '$TAG'"
  need aws jq
  load_outputs "$stage"
  run_migration
}

migrate_main "$@"
