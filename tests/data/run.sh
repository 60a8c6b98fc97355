#!/usr/bin/env bash
# The data suite (tests/data/main.py): export, import, the Django original's database,
# backup under load, migration rollbacks and rules, against SQLite and a throwaway
# PostgreSQL, with the binary in $TIMEWARP_BIN (default build/asan/timewarp), bounded to
# 8 minutes. Extra arguments go to main.py (e.g. `-k backup`).
# Last stdout line: `N passed, M failed`; exit status non-zero on any failure.
source "$(dirname "$0")/../lib/python-suite.sh" datarun

timeout -k 30 480 $PY -u tests/data/main.py "$@" > >(tee "$tmp/data.log") 2>&1 &
child=$!
wait "$child"; rc=$?; child=
sleep 0.2  # let tee flush
[ "$rc" -eq 124 ] && echo "!!! data suite timed out after 480 s"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/data.log" | tail -n 1)
if [ -z "$line" ]; then
  echo "!!! data suite printed no summary line (exit $rc): counted as 1 failure"
  echo "0 passed, 1 failed"; exit 1
fi
p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
  echo "!!! data suite exited $rc with no failed test: counted as 1 failure"; f=1
fi
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
