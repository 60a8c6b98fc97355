#!/usr/bin/env bash
# The attack suite (tests/attack/main.py) against $TIMEWARP_BIN (default build/asan/timewarp),
# bounded to 6 minutes in all. Extra arguments go to main.py (e.g. `-k hostile`).
# Needs: python3, PostgreSQL server binaries, haproxy; wrk is used when present.
# Last stdout line: `N passed, M failed`; exit status non-zero on any failure.
source "$(dirname "$0")/../lib/python-suite.sh" attackrun

start=$(date +%s)
timeout -k 30 720 $PY -u tests/attack/main.py "$@" > >(tee "$tmp/attack.log") 2>&1 &
child=$!
wait "$child"; rc=$?; child=
sleep 0.2  # let tee flush
echo "attack suite took $(( $(date +%s) - start )) s"
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$tmp/attack.log" | tail -n 1)
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  echo "!!! attack suite timed out after 720 s"
fi
if [ -z "$line" ]; then
  echo "!!! attack suite printed no summary line (exit $rc): counted as 1 failure"
  echo "0 passed, 1 failed"; exit 1
fi
p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$line")
f=$(sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/' <<<"$line")
if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
  echo "!!! attack suite exited $rc with no failed test: counted as 1 failure"; f=1
fi
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
