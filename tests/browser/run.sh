#!/usr/bin/env bash
# Browser suite: the web page end to end in Debian's headless Chromium, driven by
# playwright-core (which downloads no browser), against the real server binary
# ($TIMEWARP_BIN, default build/asan/timewarp) on a fresh SQLite database.
# Screenshots go to test-output/browser/. Extra arguments go to `node --test`
# (e.g. --test-name-pattern=duplicate).
# Last stdout line: `N passed, M failed`; exit status non-zero on any failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$repo" || exit 1
bin=${TIMEWARP_BIN:-build/asan/timewarp}
case "$bin" in /*) ;; *) bin=$repo/$bin ;; esac
chromium=/usr/bin/chromium
tmp=$(mktemp -d "${TMPDIR:-/tmp}/timewarp-browser.XXXXXX")
server=

stop_server() {  # SIGTERM, then give the drain/shutdown time to finish; returns its exit code
  [ -n "$server" ] || return 0
  kill -TERM "$server" 2>/dev/null
  local rc=0
  for _ in $(seq 1 300); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$server" 2>/dev/null; then
    echo "!!! server did not stop within 30 s of SIGTERM: killing it"
    kill -KILL "$server" 2>/dev/null
  fi
  wait "$server" 2>/dev/null; rc=$?
  server=
  return $rc
}
cleanup() { stop_server >/dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Set-up problems are one failure, so the summing script never mistakes them for success.
give_up() { echo "!!! $*"; echo "0 passed, 1 failed"; exit 1; }

if [ ! -x "$chromium" ]; then
  echo "# installing Debian's chromium"
  if [ "$(id -u)" -eq 0 ]; then as_root=; elif sudo -n true 2>/dev/null; then as_root="sudo -n"; else
    give_up "$chromium is missing and installing it needs root (apt-get install chromium)"; fi
  if ! { $as_root apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive $as_root apt-get install -y -qq chromium; } >"$tmp/apt.log" 2>&1; then
    tail -n 20 "$tmp/apt.log"; give_up "apt-get install chromium failed"
  fi
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  give_up "node and npm are needed (apt-get install nodejs npm)"
fi
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >"$tmp/npm.log" 2>&1) ||
  { tail -n 20 "$tmp/npm.log"; give_up "npm ci failed in tests/browser"; }
[ -x "$bin" ] || give_up "no server binary at $bin (run make asan, or set TIMEWARP_BIN)"

port=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
export DATABASE_URL="sqlite:///$tmp/timewarp.sqlite3" HOST=127.0.0.1 PORT=$port
export SECRET_KEY=browser-tests-secret-key-0123456789abcdef TIMEWARP_ENV=development
export TIMEWARP_DRAIN_SECONDS=0 LOG_LEVEL=info
# Moderation: one operator (moderation.test.js signs in with it), reports limited so the
# page's "too many reports" message can be seen, and the seeding calls telling clients
# apart through X-Forwarded-For (the browser itself is the peer, 127.0.0.1).
export ADMIN_TOKEN=browser-operator-token-0123456789abcdef
export TIMEWARP_ADMIN_TOKENS="browser:$ADMIN_TOKEN" TIMEWARP_RATE_LIMITS=reports=3/min TIMEWARP_TRUSTED_PROXIES=1
"$bin" migrate >"$tmp/migrate.log" 2>&1 || { cat "$tmp/migrate.log"; give_up "timewarp migrate failed"; }
"$bin" serve >"$tmp/server.out" 2>"$tmp/server.err" &
server=$!
# Up to 30 s: the sanitizer build starts slowly on a busy machine.
for _ in $(seq 1 300); do
  "$bin" healthcheck >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$tmp/server.err"; give_up "the server exited at start-up"; }
  sleep 0.1
done
"$bin" healthcheck >/dev/null 2>&1 || { cat "$tmp/server.err"; give_up "the server did not become healthy in 30 s"; }

mkdir -p test-output/browser
rm -f test-output/browser/*.png
# TMPDIR: Playwright's fresh Chromium profiles land in our folder and go with it.
BASE_URL="http://127.0.0.1:$port" SCREENSHOT_DIR="$repo/test-output/browser" CHROMIUM=$chromium \
  TMPDIR="$tmp" \
  timeout 900 node --test --test-reporter=tap "$@" "$here"/*.test.js \
  2>&1 | tee "$tmp/tap.txt"
node_rc=${PIPESTATUS[0]}

count() { awk -v k="# $1" '$1" "$2 == k { n = $3 } END { print n + 0 }' "$tmp/tap.txt"; }
pass=$(count pass)
skip=$(count skipped)
fail=$(( $(count fail) + $(count cancelled) ))
if [ "$node_rc" -ne 0 ] && [ "$fail" -eq 0 ]; then
  echo "!!! node --test exited $node_rc with no failed test: counted as 1 failure"; fail=$((fail + 1))
fi

stop_server; server_rc=$?
# The server's logs stay next to the screenshots (git-ignored) for looking into failures.
cp "$tmp/server.out" test-output/browser/server-access.log
cp "$tmp/server.err" test-output/browser/server-stderr.log
if [ "$server_rc" -ne 0 ]; then
  echo "!!! the server exited $server_rc after SIGTERM (expected 0); its stderr ends:"
  tail -n 30 "$tmp/server.err"
  fail=$((fail + 1))
elif grep -qE 'AddressSanitizer|runtime error:|LeakSanitizer' "$tmp/server.err"; then
  echo "!!! the sanitizers reported a problem in the server:"; grep -m 20 -E 'ERROR|runtime error' "$tmp/server.err"
  fail=$((fail + 1))
fi
for shot in test-output/browser/*.png; do [ -e "$shot" ] && echo "# screenshot: $shot"; done
if [ "$skip" -gt 0 ]; then echo "$pass passed, $fail failed, $skip skipped"; else echo "$pass passed, $fail failed"; fi
[ "$fail" -eq 0 ]
