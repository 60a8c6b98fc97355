# Sourced by bench/run.sh and bench/scale.sh: tool installation, the temporary folder, and
# the EXIT trap that stops everything the run started (by recorded pid, never by name).

bench_install() {  # bench_install PKG... : apt-get install only the missing ones
  missing=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  echo "bench: installing:$missing" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >&2
  $SUDO apt-get install -y -q --no-install-recommends $missing >&2
}

bench_nginx_pkg() {  # nginx-light where it exists, else nginx
  if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then return 0; fi
  if apt-cache show nginx-light >/dev/null 2>&1; then bench_install nginx-light; else bench_install nginx; fi
  if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then bench_install nginx; fi
}

bench_cleanup() {
  set +e
  local tmp="$BENCH_TMP"
  [ -n "$tmp" ] && [ -d "$tmp" ] || return 0
  # Processes the Python side recorded: "pid starttime kind". The start time guards
  # against signalling a recycled pid.
  if [ -f "$tmp/pids" ]; then
    while read -r pid start kind; do
      [ -r "/proc/$pid/stat" ] || continue
      now=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $20}')
      [ "$now" = "$start" ] || continue
      kill -TERM "$pid" 2>/dev/null
    done < "$tmp/pids"
    sleep 0.5
    while read -r pid start kind; do
      [ -r "/proc/$pid/stat" ] || continue
      now=$(sed 's/.*) //' "/proc/$pid/stat" | awk '{print $20}')
      [ "$now" = "$start" ] && kill -KILL "$pid" 2>/dev/null
    done < "$tmp/pids"
  fi
  if [ -f "$tmp/pgdirs" ]; then
    while read -r d; do
      if [ -f "$d/postmaster.pid" ]; then
        bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
        if [ "$(id -u)" -eq 0 ]; then
          runuser -u postgres -- "$bindir/pg_ctl" -D "$d" -m immediate -w -t 60 stop >/dev/null 2>&1
        else
          "$bindir/pg_ctl" -D "$d" -m immediate -w -t 60 stop >/dev/null 2>&1
        fi
      fi
    done < "$tmp/pgdirs"
  fi
  if [ -n "${BENCH_KEEP_TMP:-}" ]; then echo "bench: kept $tmp" >&2; else rm -rf "$tmp"; fi
}

# Runs the Python side in the background and waits, so a TERM or INT reaches the trap at
# once (bash defers traps while a foreground child runs); the trap passes it on.
bench_run_python() {
  /usr/bin/python3 "$@" &
  BENCH_PY=$!
  set +e
  wait "$BENCH_PY"
  rc=$?
  BENCH_PY=""
  return $rc
}

bench_on_signal() {
  if [ -n "${BENCH_PY:-}" ]; then
    kill -TERM "$BENCH_PY" 2>/dev/null
    wait "$BENCH_PY" 2>/dev/null
  fi
  exit "$1"
}

bench_setup_tmp() {
  # A neutral name: on a shared machine, someone's broad `pkill timewarp` must not hit us.
  BENCH_TMP=$(mktemp -d /tmp/twbench.XXXXXX)
  # The postgres user must be able to reach its data directory inside.
  chmod 711 "$BENCH_TMP"
  export BENCH_TMP
  trap bench_cleanup EXIT
  trap 'bench_on_signal 130' INT
  trap 'bench_on_signal 143' TERM
}
