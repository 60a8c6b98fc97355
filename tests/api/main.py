#!/usr/bin/python3
"""Black-box HTTP contract suite for the Time Warp server (SPEC.md), run against SQLite
and a throwaway PostgreSQL cluster.

    /usr/bin/python3 tests/api/main.py [--bin build/asan/timewarp] [--backend sqlite,postgres]
                                       [-k name-substring[,another]] [--list] [--service-role]

--service-role: on PostgreSQL the servers connect as the limited role that `timewarp migrate`
creates and grants (TIMEWARP_DB_SERVICE_ROLE), while migrations run as the database owner.

Prints one PASS/FAIL/SKIP line per test and backend; the last line is
`N passed, M failed, K skipped`. Exit status 1 when anything failed.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from twtest import cleanup  # noqa: E402
from twtest.framework import REGISTRY, BACKENDS, Runner, Suite  # noqa: E402
from twtest.openapi import OpenAPI  # noqa: E402

# Test modules register themselves on import.
import cases.test_conventions  # noqa: E402,F401
import cases.test_bodies  # noqa: E402,F401
import cases.test_contributors  # noqa: E402,F401
import cases.test_submissions  # noqa: E402,F401
import cases.test_clips  # noqa: E402,F401
import cases.test_lifecycle  # noqa: E402,F401
import cases.test_production  # noqa: E402,F401
import cases.test_calendar  # noqa: E402,F401
import cases.test_rate_limits  # noqa: E402,F401
import cases.test_moderation  # noqa: E402,F401
import cases.test_caching  # noqa: E402,F401
import cases.test_group_commit  # noqa: E402,F401


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("TIMEWARP_BIN") or os.path.join(REPO, "build/asan/timewarp"))
    ap.add_argument("--backend", default=",".join(BACKENDS))
    ap.add_argument("-k", dest="pattern", default=None)
    ap.add_argument("--openapi", default=os.path.join(REPO, "docs/openapi.yaml"))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--service-role", action="store_true",
                    help="PostgreSQL: servers connect as the limited role `migrate` grants (production's setup)")
    args = ap.parse_args()

    if args.list:
        for name, _, bks in REGISTRY:
            print("%s  [%s]" % (name, ",".join(bks)))
        return 0

    cleanup.install()
    binary = os.path.abspath(args.bin)
    if not os.access(binary, os.X_OK):
        print("FAIL [-] setup.binary: %s is not an executable (build it with `make asan`)" % binary)
        print("0 passed, 1 failed")
        return 1
    oapi = OpenAPI(args.openapi)
    suite = Suite(binary, oapi)
    backends = [b for b in args.backend.split(",") if b]
    runner = Runner(suite, backends, args.pattern, service_role=args.service_role)
    try:
        runner.run()
    finally:
        cleanup.run_all()
    if runner.failures:
        print("\nFailed:")
        for f in runner.failures:
            print("  " + f)
    print("%d passed, %d failed, %d skipped" % (runner.passed, runner.failed, runner.skipped), flush=True)
    return 1 if runner.failed else 0


if __name__ == "__main__":
    sys.exit(main())
