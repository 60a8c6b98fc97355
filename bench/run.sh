#!/usr/bin/env bash
# make bench: requests/s, p50/p99 and failures of build/timewarp on SQLite and on a
# throwaway PostgreSQL, against an nginx ceiling measured in the same run; checked against
# issue 5's targets. Results: bench/results/latest.{json,md}. Exit 1 if any request failed,
# 2 if the harness could not run; a missed ratio target is reported, not a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh

bench_install wrk postgresql curl
bench_nginx_pkg
if [ ! -x build/timewarp ]; then
  echo "bench: build/timewarp missing; run make first" >&2
  exit 2
fi

bench_setup_tmp
bench_run_python bench/bench.py "$@"
exit $?
