#!/bin/sh
# Installs the Debian packages Time Warp needs, only those missing.
#   install-deps.sh build   what `make` / `make run` need
#   install-deps.sh test    plus what `make test` needs (PostgreSQL, test tools, node)
set -eu
BUILD="build-essential pkg-config libjansson-dev libsqlite3-dev libpq-dev libssl-dev curl"
TEST="$BUILD libcmocka-dev postgresql python3 python3-yaml python3-jsonschema nodejs clang libclang-rt-14-dev chromium haproxy wrk jq"
case "${1:-build}" in
  build) want="$BUILD" ;;
  test) want="$TEST" ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# Debian splits npm out of nodejs; other node packagings ship it inside.
if [ "${1:-build}" = test ] && ! command -v npm >/dev/null 2>&1; then missing="$missing npm"; fi
[ -z "$missing" ] && exit 0
echo "install-deps: installing:$missing" >&2
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends $missing
