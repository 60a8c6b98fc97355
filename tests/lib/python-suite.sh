# Sourced by the runners of the Python suites (tests/api/run.sh, tests/attack/run.sh):
# repo root as working directory, the binary under test, a temporary folder removed on exit,
# and a `child` (the suite's main.py) that gets SIGTERM first so it can stop the servers,
# proxies and PostgreSQL clusters it started. $1 names the temporary folder.
set -u
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
export TIMEWARP_BIN=${TIMEWARP_BIN:-build/asan/timewarp}
PY=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/timewarp-$1.XXXXXX")
child=
cleanup() {
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
