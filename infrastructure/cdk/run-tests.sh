#!/usr/bin/env bash
# Test suite of the AWS infrastructure (CDK app, deploy workflow, deploy scripts), fully offline:
#   1. npm ci from the committed package-lock.json (skipped with SKIP_NPM_CI=1, as `npm test` does)
#   2. node's test runner on test/*.test.ts through tsx, TAP output
#   3. `cdk synth` of both stages with the CLI, into a temporary folder, counted as one test
# The last line of stdout is "N passed, M failed[, K skipped]"; the exit status is non-zero on any failure.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/timewarp-cdk.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# No notices, no telemetry, no update checks: nothing here may reach the network but npm ci.
export CDK_DISABLE_CLI_TELEMETRY=1 CDK_DISABLE_VERSION_CHECK=1 NO_UPDATE_NOTIFIER=1 npm_config_update_notifier=false

passed=0 failed=0 skipped=0

if [[ ${SKIP_NPM_CI:-0} != 1 ]]; then
  if ! timeout 300 npm ci --no-audit --no-fund --loglevel=error >"$tmp/npm.log" 2>&1; then
    cat "$tmp/npm.log" >&2
    echo "npm ci failed" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
fi

# 2. Unit and contract tests (TAP). The runner's summary lines give the counts.
status=0
timeout 600 node --import tsx --test --test-reporter=tap --test-concurrency=2 test/*.test.ts >"$tmp/tap.txt" 2>&1 || status=$?
cat "$tmp/tap.txt"
count() { sed -n "s/^# $1 \([0-9][0-9]*\)\$/\1/p" "$tmp/tap.txt" | tail -n 1; }
tap_pass=$(count pass) tap_fail=$(count fail) tap_cancelled=$(count cancelled) tap_skipped=$(count skipped)
if [[ -z $tap_pass || -z $tap_fail ]]; then
  echo "not ok - the node test runner gave no summary (exit status $status)"
  failed=$((failed + 1))
else
  passed=$((passed + tap_pass))
  failed=$((failed + tap_fail + ${tap_cancelled:-0}))
  skipped=$((skipped + ${tap_skipped:-0}))
  if [[ $status -ne 0 && $((tap_fail + ${tap_cancelled:-0})) -eq 0 ]]; then
    echo "not ok - the node test runner exited with status $status"
    failed=$((failed + 1))
  fi
fi

# 3. The CLI synthesizes both stages offline, with example context (as a deploy would pass).
#    Where we may (root), it runs in a network namespace of its own: proof that it needs no network.
isolate=() where="offline"
if unshare -n true 2>/dev/null; then isolate=(unshare -n) where="no network at all"; fi
synth=(
  "${isolate[@]}" npx --no-install cdk synth --no-notices --no-version-reporting --quiet --output "$tmp/cdk.out"
  -c imageTag=0123456789abcdef0123456789abcdef01234567
  -c certificateArn=arn:aws:acm:us-east-1:123456789012:certificate/11111111-2222-3333-4444-555555555555
  -c staging:domainName=staging.timewarp.example.com
  -c production:domainName=timewarp.example.com
)
if timeout 300 "${synth[@]}" >"$tmp/synth.log" 2>&1 &&
  [[ -s $tmp/cdk.out/TimeWarp-staging.template.json && -s $tmp/cdk.out/TimeWarp-production.template.json &&
     -s $tmp/cdk.out/TimeWarp-shared.template.json ]]; then
  echo "ok - cdk synth (TimeWarp-shared, TimeWarp-staging, TimeWarp-production), $where"
  passed=$((passed + 1))
else
  cat "$tmp/synth.log"
  echo "not ok - cdk synth (TimeWarp-shared, TimeWarp-staging, TimeWarp-production), $where"
  failed=$((failed + 1))
fi

summary="$passed passed, $failed failed"
((skipped == 0)) || summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
