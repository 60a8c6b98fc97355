#!/bin/sh
# Runs the cmocka unit-test binaries given as arguments and sums their results.
# A binary's counts come from cmocka's own summary ("[  PASSED  ] N test(s)." and
# "[  FAILED  ] N test(s)"); a binary that prints no summary (crash, sanitizer abort, time-out)
# counts as one failure, and so does one that exits non-zero with no failed test reported
# (LeakSanitizer, for instance, reports after cmocka's summary). Last line of stdout:
# exactly `N passed, M failed`. Exit status non-zero if anything failed.
set -u

# Each binary is bounded in time so a hung test can never stall the suite.
UNIT_TIMEOUT=${UNIT_TIMEOUT:-120}

passed=0
failed=0

log=$(mktemp "${TMPDIR:-/tmp}/timewarp-unit.XXXXXX") || exit 1
trap 'rm -f "$log"' EXIT
trap 'exit 130' INT TERM

if [ "$#" -eq 0 ]; then
    echo "run.sh: no unit-test binaries given"
    echo "0 passed, 1 failed"
    exit 1
fi

for bin in "$@"; do
    echo "=== $bin"
    if [ ! -x "$bin" ]; then
        echo "!!! $bin is missing or not executable: counted as 1 failure"
        failed=$((failed + 1))
        continue
    fi
    # cmocka prints the summary on stderr and the progress on stdout: keep both, in order.
    env -u CMOCKA_MESSAGE_OUTPUT timeout -k 5 "$UNIT_TIMEOUT" "$bin" >"$log" 2>&1
    rc=$?
    cat "$log"

    p=$(sed -n 's/.*\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$log" | tail -n 1)
    f=$(sed -n 's/.*\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$log" | tail -n 1)
    if [ -z "$p" ] && [ -z "$f" ]; then
        echo "!!! $bin printed no cmocka summary (exit $rc): counted as 1 failure"
        failed=$((failed + 1))
        continue
    fi
    p=${p:-0}
    f=${f:-0}
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "!!! $bin exited $rc although no test failed: counted as 1 failure"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
