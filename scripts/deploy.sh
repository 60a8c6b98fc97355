#!/usr/bin/env bash
# shellcheck disable=SC2016 # backticks in --query arguments are JMESPath literals, not shell
# Deploy Time Warp to one stage by hand with the AWS CLI: the same steps, in the
# same order, as .github/workflows/deploy.yml (which calls this script).
# migrate.sh sources this file for its helpers; main only runs when executed.
set -euo pipefail

STAGES="staging production"
ALL_STEPS="build push migrate update wait verify"
KNOWN_STEPS="$ALL_STEPS exists"
REPOSITORY=timewarp

usage() {
  cat <<EOF
Usage: scripts/deploy.sh [options] STAGE [STEP...]
       scripts/deploy.sh [options] current-tag STAGE
       scripts/deploy.sh [options] rollback STAGE [TASK_DEFINITION]

Deploy the image TAG to STAGE (staging or production). Steps, in order (all when none given):
  build    docker build --platform linux/amd64 -f docker/Dockerfile, tagged timewarp:TAG; refuses
           a working tree with changes, or a TAG that is not its HEAD commit
  push     push it to the ECR repository "$REPOSITORY" (skipped if TAG is already there: tags are immutable)
  migrate  run 'timewarp migrate' as a one-off task with the new image; stop unless it exits 0
  update   register a serve task definition revision with the new image and point the service at it
  wait     wait for the service to be stable and check the new revision is the one running
           (the deployment circuit breaker rolls back failed deployments: that is a failure here)
  verify   GET https://DOMAIN/health/ (the deep check) through the load balancer: 200 and "status": "ok"
  exists   (not in the default list) fail unless TAG is already in ECR: production promotes
           the image staging verified instead of building it again

current-tag  print the image tag the service runs now (pass it as -c imageTag=... to cdk deploy)
rollback     point the service at the newest older serve revision whose image differs from the
             running one (or TASK_DEFINITION), then wait and verify.
             Schema rollbacks: scripts/migrate.sh --tag NEW_TAG --to N STAGE

Options:
  -t, --tag TAG        image tag (default: the current git commit, git rev-parse HEAD)
  -r, --region REGION  AWS region (default: the AWS CLI's: AWS_REGION, AWS_DEFAULT_REGION or config)
  -h, --help           show this help
Needs: aws (v2), jq, curl; docker for build/push. Credentials as for the AWS CLI.
EOF
}

log() { printf '[deploy %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
usage_error() { printf 'error: %s\n\n' "$*" >&2; usage >&2; exit 2; }

need() {
  local cmd
  for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' is required but not installed"; done
}

aws_() { aws ${REGION:+--region "$REGION"} "$@"; }

valid_stage() { [[ " $STAGES " == *" $1 "* ]]; }

# Stack outputs of TimeWarp-STAGE (see infrastructure/cdk/lib/timewarp-stack.ts) as OUT_* variables.
# shellcheck disable=SC2034 # some OUT_* are only read by migrate.sh
load_outputs() {
  local stage=$1 json
  json=$(aws_ cloudformation describe-stacks --stack-name "TimeWarp-$stage" --query 'Stacks[0].Outputs' --output json) ||
    die "cannot read the outputs of stack TimeWarp-$stage (deployed? right region and account?)"
  output() {
    local value
    value=$(jq -r --arg k "$1" '.[]? | select(.OutputKey == $k) | .OutputValue' <<<"$json")
    [[ -n $value ]] || die "stack TimeWarp-$stage has no output $1"
    printf '%s' "$value"
  }
  OUT_ClusterName=$(output ClusterName)
  OUT_ServiceName=$(output ServiceName)
  OUT_ServeTaskFamily=$(output ServeTaskFamily)
  OUT_MigrateTaskFamily=$(output MigrateTaskFamily)
  OUT_ContainerName=$(output ContainerName)
  OUT_TaskSubnetIds=$(output TaskSubnetIds)
  OUT_TaskAssignPublicIp=$(output TaskAssignPublicIp)
  OUT_ServiceSecurityGroupId=$(output ServiceSecurityGroupId)
  OUT_DomainName=$(output DomainName)
  OUT_LogGroupName=$(output LogGroupName)
}

repository_uri() {
  aws_ ecr describe-repositories --repository-names "$REPOSITORY" --query 'repositories[0].repositoryUri' --output text
}

# Register a new revision of FAMILY whose container CONTAINER runs IMAGE; print its ARN.
# Everything else is copied from the latest revision (which CloudFormation or an earlier deploy made).
register_revision() {
  local family=$1 container=$2 image=$3 current spec tags
  current=$(aws_ ecs describe-task-definition --task-definition "$family" --include TAGS --output json)
  spec=$(jq -c --arg c "$container" --arg img "$image" '
      .taskDefinition
      | .containerDefinitions |= map(if .name == $c then .image = $img else . end)
      | {family, taskRoleArn, executionRoleArn, networkMode, containerDefinitions, volumes,
         placementConstraints, requiresCompatibilities, cpu, memory, runtimePlatform, ephemeralStorage}
      | with_entries(select(.value != null))' <<<"$current")
  tags=$(jq -c '.tags // [] | if length > 0 then . else empty end' <<<"$current")
  aws_ ecs register-task-definition --cli-input-json "$spec" ${tags:+--tags "$tags"} \
    --query 'taskDefinition.taskDefinitionArn' --output text
}

image_of() { # image of CONTAINER in task definition ARN
  aws_ ecs describe-task-definition --task-definition "$1" --output json |
    jq -r --arg c "$2" '.taskDefinition.containerDefinitions[] | select(.name == $c) | .image'
}

primary_task_definition() {
  aws_ ecs describe-services --cluster "$OUT_ClusterName" --services "$OUT_ServiceName" \
    --query 'services[0].deployments[?status==`PRIMARY`] | [0].taskDefinition' --output text
}

# The tasks are X86_64 (infrastructure/cdk/lib/timewarp-stack.ts): an image built on an arm64
# laptop without --platform would not start there, and its immutable tag could never be fixed.
PLATFORM=linux/amd64

# The tag says which commit the image holds: refuse to build anything else under it.
check_tree() {
  local root=$1 head dirty
  need git
  head=$(git -C "$root" rev-parse HEAD 2>/dev/null) || die "not a git checkout: cannot tell which commit the image holds"
  dirty=$(git -C "$root" status --porcelain --untracked-files=normal) || die "git status failed"
  [[ -z $dirty ]] || die "the working tree has changes; commit or stash them first (an image tagged $TAG must be exactly that commit):
$dirty"
  [[ $TAG == "$head" ]] || die "tag $TAG is not the checked-out commit $head: build from a checkout of $TAG"
}

step_build() {
  need docker
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  check_tree "$root"
  log "building timewarp:$TAG for $PLATFORM"
  docker build --platform "$PLATFORM" -f "$root/docker/Dockerfile" -t "timewarp:$TAG" "$root"
}

step_push() {
  need docker
  local uri registry
  uri=$(repository_uri)
  if aws_ ecr describe-images --repository-name "$REPOSITORY" --image-ids "imageTag=$TAG" >/dev/null 2>&1; then
    log "$uri:$TAG is already in ECR, not pushing again"
    return 0
  fi
  registry=${uri%%/*}
  aws_ ecr get-login-password | docker login --username AWS --password-stdin "$registry"
  docker tag "timewarp:$TAG" "$uri:$TAG"
  log "pushing $uri:$TAG"
  docker push "$uri:$TAG"
}

step_exists() {
  aws_ ecr describe-images --repository-name "$REPOSITORY" --image-ids "imageTag=$TAG" \
    --query 'imageDetails[0].imagePushedAt' --output text >/dev/null ||
    die "image $REPOSITORY:$TAG is not in ECR (was it built and pushed by the staging job?)"
  log "$REPOSITORY:$TAG is in ECR"
}

step_migrate() {
  "$(dirname "${BASH_SOURCE[0]}")/migrate.sh" ${REGION:+--region "$REGION"} --tag "$TAG" "$STAGE"
}

step_update() {
  local uri arn
  uri=$(repository_uri)
  arn=$(register_revision "$OUT_ServeTaskFamily" "$OUT_ContainerName" "$uri:$TAG")
  log "registered $arn; updating service $OUT_ServiceName"
  aws_ ecs update-service --cluster "$OUT_ClusterName" --service "$OUT_ServiceName" \
    --task-definition "$arn" --query 'service.serviceName' --output text >/dev/null
}

# Wait for stability, then check the deployment that won is ours and COMPLETED:
# a circuit-breaker rollback also ends "stable", on the old revision.
wait_for() {
  local expect_tag=$1 state td image
  log "waiting for $OUT_ServiceName to become stable"
  aws_ ecs wait services-stable --cluster "$OUT_ClusterName" --services "$OUT_ServiceName" ||
    die "service $OUT_ServiceName did not become stable"
  state=$(aws_ ecs describe-services --cluster "$OUT_ClusterName" --services "$OUT_ServiceName" \
    --query 'services[0].deployments[?status==`PRIMARY`] | [0].rolloutState' --output text)
  td=$(primary_task_definition)
  image=$(image_of "$td" "$OUT_ContainerName")
  [[ $state == COMPLETED ]] || die "deployment rollout state is $state (running $td)"
  [[ ${image##*:} == "$expect_tag" ]] || die "the service runs $image, not tag $expect_tag: the deployment was rolled back"
  log "stable on $td ($image)"
}

step_wait() { wait_for "$TAG"; }

step_verify() {
  local url="https://$OUT_DomainName/health/" body
  log "checking $url"
  body=$(curl --fail --silent --show-error --max-time 10 --retry 6 --retry-delay 5 --retry-all-errors "$url") ||
    die "$url did not answer 200"
  grep -Eq '"status"[[:space:]]*:[[:space:]]*"ok"' <<<"$body" || die "$url answered: $body"
  log "healthy: $body"
}

current_tag() {
  local image
  image=$(image_of "$(primary_task_definition)" "$OUT_ContainerName")
  printf '%s\n' "${image##*:}"
}

# The newest ACTIVE serve revision older than RUNNING whose image differs from RUNNING's: the
# numerically previous revision may hold the same image (an infrastructure deploy, a forced
# deployment after a rotation), and "rolling back" to it would change nothing.
previous_release() {
  local running=$1 revision current arn
  revision=${running##*:}
  current=$(image_of "$running" "$OUT_ContainerName")
  while read -r arn; do
    [[ -n $arn ]] || continue
    if [[ $(image_of "$arn" "$OUT_ContainerName") != "$current" ]]; then
      printf '%s\n' "$arn"
      return 0
    fi
  done < <(aws_ ecs list-task-definitions --family-prefix "$OUT_ServeTaskFamily" --status ACTIVE --sort DESC \
    --output json | jq -r --argjson r "$revision" '.taskDefinitionArns[] | select((split(":") | last | tonumber) < $r)')
  die "no ACTIVE revision of $OUT_ServeTaskFamily older than $running runs another image than $current"
}

rollback() {
  local target=${1:-} running
  running=$(primary_task_definition)
  [[ -n $target ]] || target=$(previous_release "$running")
  log "rolling back $OUT_ServiceName from $running to $target"
  aws_ ecs update-service --cluster "$OUT_ClusterName" --service "$OUT_ServiceName" \
    --task-definition "$target" --query 'service.serviceName' --output text >/dev/null
  local image
  image=$(image_of "$target" "$OUT_ContainerName")
  wait_for "${image##*:}"
  step_verify
}

main() {
  TAG="" REGION=""
  local args=()
  while (($#)); do
    case $1 in
      -h | --help) usage; exit 0 ;;
      -t | --tag) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; TAG=$2; shift 2 ;;
      -r | --region) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; REGION=$2; shift 2 ;;
      -*) usage_error "unknown option $1" ;;
      *) args+=("$1"); shift ;;
    esac
  done
  ((${#args[@]})) || usage_error "missing STAGE"

  local command=deploy
  if [[ ${args[0]} == current-tag || ${args[0]} == rollback ]]; then
    command=${args[0]}
    args=("${args[@]:1}")
    ((${#args[@]})) || usage_error "missing STAGE"
  fi
  STAGE=${args[0]}
  valid_stage "$STAGE" || usage_error "unknown stage '$STAGE' (one of: $STAGES)"
  args=("${args[@]:1}")

  case $command in
    current-tag)
      ((${#args[@]} == 0)) || usage_error "current-tag takes no further argument"
      need aws jq; load_outputs "$STAGE"; current_tag; return ;;
    rollback)
      ((${#args[@]} <= 1)) || usage_error "rollback takes at most one task definition"
      need aws jq curl; load_outputs "$STAGE"; rollback "${args[0]:-}"; return ;;
  esac

  local steps=("${args[@]}") step
  ((${#steps[@]})) || read -r -a steps <<<"$ALL_STEPS"
  for step in "${steps[@]}"; do
    [[ " $KNOWN_STEPS " == *" $step "* ]] || usage_error "unknown step '$step' (steps: $KNOWN_STEPS)"
  done
  if [[ -z $TAG ]]; then
    TAG=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse HEAD 2>/dev/null) || usage_error "no --tag and not in a git checkout"
  fi
  [[ $TAG =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || usage_error "invalid image tag '$TAG'"
  [[ " ${steps[*]} " == *" verify "* ]] && need curl

  # build, push and exists need no stack (the first image is pushed before the first deploy);
  # the other steps read the stack outputs once.
  local needs_stack=0
  for step in "${steps[@]}"; do [[ " build push exists " == *" $step "* ]] || needs_stack=1; done
  [[ " ${steps[*]} " == " build " ]] || need aws jq
  ((needs_stack == 0)) || load_outputs "$STAGE"
  for step in "${steps[@]}"; do
    log "== $step ($STAGE, tag $TAG)"
    "step_$step"
  done
  log "done: ${steps[*]}"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  main "$@"
fi
