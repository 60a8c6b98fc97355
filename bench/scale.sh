#!/usr/bin/env bash
# make bench-scale: request latency at 2,000 and 1,000,000 clips (bulk-loaded with SQL) on
# SQLite and a throwaway PostgreSQL; checks that deep pages cost what the first page costs
# and that nothing grows with the archive. Results: bench/results/scale.{json,md}. Then
# `timewarp export`/`import` of 1,000,000 clips on both: bench/results/data_scale.{json,md}.
# Exit 1 if the server failed, 2 if the harness could not run; a missed check is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib/common.sh

bench_install sqlite3 postgresql
if [ ! -x build/timewarp ]; then
  echo "bench-scale: build/timewarp missing; run make first" >&2
  exit 2
fi

bench_setup_tmp
bench_run_python bench/scale.py "$@"
rc=$?
# Export and import of the same size of archive (bench/data_scale.py).
bench_run_python bench/data_scale.py
rc2=$?
[ "$rc" -ne 0 ] && exit "$rc"
exit $rc2
