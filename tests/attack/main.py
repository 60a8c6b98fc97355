#!/usr/bin/python3
"""Tests that attack the Time Warp server: hostile HTTP, slow clients, kill -9 and database
outages under load, SIGTERM under load, secrets in logs, production behaviour behind a
proxy, and a rolling restart behind HAProxy.

    /usr/bin/python3 tests/attack/main.py [--bin build/asan/timewarp] [-k substring[,…]] [--list]

One PASS/FAIL line per test; the last line is `N passed, M failed`. Exit status 1 when
anything failed. Each test has a time budget; everything it starts is cleaned up.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from attack.framework import REGISTRY, Runner, Suite, cleanup  # noqa: E402

# Test modules register themselves on import, in the order they run.
import cases.test_hostile  # noqa: E402,F401
import cases.test_slow  # noqa: E402,F401
import cases.test_faults  # noqa: E402,F401
import cases.test_production  # noqa: E402,F401
import cases.test_haproxy  # noqa: E402,F401
import cases.test_tls  # noqa: E402,F401
import cases.test_roles  # noqa: E402,F401
import cases.test_rotation  # noqa: E402,F401
import cases.test_limits  # noqa: E402,F401
import cases.test_db_stall  # noqa: E402,F401
import cases.test_memory  # noqa: E402,F401


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("TIMEWARP_BIN") or os.path.join(REPO, "build/asan/timewarp"))
    ap.add_argument("-k", dest="pattern", default=None)
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()
    if args.list:
        for name, _, budget, pg in REGISTRY:
            print("%-40s budget %3d s%s" % (name, budget, "  (PostgreSQL)" if pg else ""))
        return 0
    cleanup.install()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print("FAIL setup.binary: %s is not an executable (build it with `make asan`)" % binary)
        print("0 passed, 1 failed")
        return 1
    runner = Runner(Suite(binary), args.pattern)
    try:
        runner.run()
    finally:
        cleanup.run_all()
    if runner.failures:
        print("\nFailed:")
        for f in runner.failures:
            print("  " + f)
    print("%d passed, %d failed" % (runner.passed, runner.failed), flush=True)
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main())
