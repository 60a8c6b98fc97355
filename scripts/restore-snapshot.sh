#!/usr/bin/env bash
# Restore an RDS snapshot of a stage's database into a NEW instance and point the stage's
# service at it (docs/DEPLOYMENT.md, "Backups and restore"). The old instance is left as it
# is, so nothing is lost if the restore was the wrong one.
set -euo pipefail

# Helpers (aws_, load_outputs, register_revision, primary_task_definition, wait_for, ...).
# shellcheck source=scripts/deploy.sh
source "$(dirname "${BASH_SOURCE[0]}")/deploy.sh"

usage() {
  cat <<'EOF'
Usage: scripts/restore-snapshot.sh [options] STAGE

  1. find the stage's database instance (the DB_HOST of the running service);
  2. restore a snapshot of it into a new instance in the same subnet group, security
     groups, class, storage type and Multi-AZ setting, and wait until it is available;
  3. register a new revision of the serve and migrate task definitions with DB_HOST set to
     the new instance, roll the service onto it and wait until it is stable;
  4. check /health/ through the load balancer.
The credentials secret stays valid: a restored instance keeps the snapshot's master user
and password.

Options:
  -s, --snapshot ID    the snapshot to restore (default: the newest automated snapshot)
  -n, --name NAME      identifier of the new instance (default: <old>-restored-<UTC time>)
      --list           list the instance's snapshots and exit
  -r, --region REGION  AWS region (default: the AWS CLI's)
  -h, --help           show this help
Needs: aws (v2), jq, curl. Credentials as for the AWS CLI.
EOF
}

# Register a revision of FAMILY with DB_HOST=HOST in CONTAINER's environment; print its ARN.
with_db_host() {
  local family=$1 host=$2 current spec tags
  current=$(aws_ ecs describe-task-definition --task-definition "$family" --include TAGS --output json)
  spec=$(jq -c --arg c "$OUT_ContainerName" --arg h "$host" '
      .taskDefinition
      | .containerDefinitions |= map(if .name == $c then
          .environment = ((.environment // []) | map(select(.name != "DB_HOST")) + [{name: "DB_HOST", value: $h}])
        else . end)
      | {family, taskRoleArn, executionRoleArn, networkMode, containerDefinitions, volumes,
         placementConstraints, requiresCompatibilities, cpu, memory, runtimePlatform, ephemeralStorage}
      | with_entries(select(.value != null))' <<<"$current")
  tags=$(jq -c '.tags // [] | if length > 0 then . else empty end' <<<"$current")
  aws_ ecs register-task-definition --cli-input-json "$spec" ${tags:+--tags "$tags"} \
    --query 'taskDefinition.taskDefinitionArn' --output text
}

restore_main() {
  REGION=""
  local stage="" snapshot="" name="" list=0
  while (($#)); do
    case $1 in
      -h | --help) usage; exit 0 ;;
      -s | --snapshot) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; snapshot=$2; shift 2 ;;
      -n | --name) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; name=$2; shift 2 ;;
      --list) list=1; shift ;;
      -r | --region) [[ $# -ge 2 ]] || usage_error "$1 needs a value"; REGION=$2; shift 2 ;;
      -*) usage_error "unknown option $1" ;;
      *) [[ -z $stage ]] || usage_error "unexpected argument '$1'"; stage=$1; shift ;;
    esac
  done
  [[ -n $stage ]] || usage_error "missing STAGE"
  valid_stage "$stage" || usage_error "unknown stage '$stage' (one of: $STAGES)"
  [[ -z $name || $name =~ ^[a-zA-Z][a-zA-Z0-9-]{0,62}$ ]] || usage_error "invalid instance name '$name'"
  need aws jq curl
  load_outputs "$stage"

  local serving host instance old snapshots
  serving=$(primary_task_definition)
  host=$(aws_ ecs describe-task-definition --task-definition "$serving" --output json |
    jq -r --arg c "$OUT_ContainerName" '.taskDefinition.containerDefinitions[] | select(.name == $c)
      | .environment[]? | select(.name == "DB_HOST") | .value')
  [[ -n $host ]] || die "the service's task definition $serving has no DB_HOST"
  instance=$(aws_ rds describe-db-instances --output json | jq -c --arg h "$host" '.DBInstances[] | select(.Endpoint.Address == $h)')
  [[ -n $instance ]] || die "no RDS instance has the endpoint $host"
  old=$(jq -r '.DBInstanceIdentifier' <<<"$instance")
  log "$stage serves from RDS instance $old ($host)"

  snapshots=$(aws_ rds describe-db-snapshots --db-instance-identifier "$old" --output json)
  if ((list)); then
    jq -r '.DBSnapshots | sort_by(.SnapshotCreateTime) | .[] | "\(.SnapshotCreateTime)  \(.SnapshotType)  \(.Status)  \(.DBSnapshotIdentifier)"' <<<"$snapshots"
    return
  fi
  if [[ -z $snapshot ]]; then
    snapshot=$(jq -r '[.DBSnapshots[] | select(.SnapshotType == "automated" and .Status == "available")]
      | sort_by(.SnapshotCreateTime) | last | .DBSnapshotIdentifier // empty' <<<"$snapshots")
    [[ -n $snapshot ]] || die "instance $old has no available automated snapshot (--list shows them)"
  fi
  name=${name:-$old-restored-$(date -u +%Y%m%d%H%M%S)}
  name=${name:0:63}
  local groups
  read -r -a groups <<<"$(jq -r '[.VpcSecurityGroups[].VpcSecurityGroupId] | join(" ")' <<<"$instance")"
  log "restoring snapshot $snapshot into new instance $name"
  aws_ rds restore-db-instance-from-db-snapshot --db-instance-identifier "$name" \
    --db-snapshot-identifier "$snapshot" \
    --db-instance-class "$(jq -r '.DBInstanceClass' <<<"$instance")" \
    --db-subnet-group-name "$(jq -r '.DBSubnetGroup.DBSubnetGroupName' <<<"$instance")" \
    --vpc-security-group-ids "${groups[@]}" \
    --storage-type "$(jq -r '.StorageType' <<<"$instance")" \
    "$(jq -r 'if .MultiAZ then "--multi-az" else "--no-multi-az" end' <<<"$instance")" \
    --no-publicly-accessible --copy-tags-to-snapshot --output json >/dev/null
  log "waiting for $name to become available (several minutes)"
  aws_ rds wait db-instance-available --db-instance-identifier "$name" || die "instance $name did not become available"
  local new_host serve migrate
  new_host=$(aws_ rds describe-db-instances --db-instance-identifier "$name" --query 'DBInstances[0].Endpoint.Address' --output text)
  log "new instance $name at $new_host"

  serve=$(with_db_host "$serving" "$new_host")
  migrate=$(with_db_host "$OUT_MigrateTaskFamily" "$new_host")
  log "registered $serve and $migrate"
  aws_ ecs update-service --cluster "$OUT_ClusterName" --service "$OUT_ServiceName" \
    --task-definition "$serve" --output json >/dev/null
  aws_ ecs wait services-stable --cluster "$OUT_ClusterName" --services "$OUT_ServiceName" ||
    die "the service did not become stable on $name; roll back with: scripts/deploy.sh $stage rollback"
  curl -fsS --max-time 10 "https://$OUT_DomainName/health/" >/dev/null || die "https://$OUT_DomainName/health/ is not healthy"
  log "$stage now serves from $name (snapshot $snapshot); $old is untouched."
  log "the stack still describes $old: see docs/DEPLOYMENT.md before the next cdk deploy"
}

restore_main "$@"
