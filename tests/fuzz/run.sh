#!/usr/bin/env bash
# libFuzzer runs of the pure parsers: tests/fuzz/run.sh [--long] [target ...]
#   targets: youtube date cursor body http (default: all)
#   default: 30 s per target (what `make test` runs); --long: 10 min per target (`make fuzz`).
# Each target is built with clang into build/fuzz/ (ASan + UBSan + libFuzzer, the Makefile's
# warning flags), then fuzzed on a temporary copy of its committed seed corpus
# (tests/fuzz/corpus/<target>/), so a run never grows the committed corpus. A crash, leak,
# timeout, out-of-memory, sanitizer report or broken invariant is a FAIL, and the reproducer
# is kept under build/fuzz/artifacts/<target>/ (replay: build/fuzz/fuzz_<target> <file>).
# Last stdout line: `N passed, M failed`; exit status non-zero on any failure.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

secs=30
targets=()
for arg in "$@"; do
  case "$arg" in
    --long) secs=600 ;;
    youtube|date|cursor|body|http) targets+=("$arg") ;;
    *) echo "usage: $0 [--long] [youtube|date|cursor|body|http ...]" >&2; echo "0 passed, 1 failed"; exit 2 ;;
  esac
done
[ ${#targets[@]} -eq 0 ] && targets=(youtube date cursor body http)
# Fuzzing is CPU-bound: run as many targets at once as there are cores (FUZZ_JOBS overrides).
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1

# The smallest set of sources each target links with (body.c's error path reaches the store
# interface through api_store_failure, which needs the store and its two drivers).
declare -A SOURCES=(
  [youtube]="src/domain/youtube.c src/domain/text.c"
  [date]="src/domain/date.c src/domain/text.c"
  [cursor]="src/domain/cursor.c src/domain/text.c"
  [http]="src/http/parse.c"
  [body]="src/random.c src/api/body.c src/api/contributors.c src/api/submissions.c src/api/throttle.c src/limits.c src/config.c src/api/common.c src/api/json_writer.c src/domain/text.c src/domain/date.c src/domain/youtube.c src/log.c src/metrics.c src/store/store.c src/store/change_log.c src/store/sqlite.c src/store/postgres.c"
)
declare -A LIBS=(
  [youtube]="" [date]="" [http]="" [cursor]="libcrypto" [body]="jansson sqlite3 libpq libcrypto"
)
# Longest input tried: bodies need room for nesting and long fields.
declare -A MAXLEN=([youtube]=4096 [date]=256 [cursor]=512 [body]=16384 [http]=20000)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/timewarp-fuzz.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pass=0; fail=0
CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "FAIL setup: $CC not found (apt-get install clang libclang-rt-14-dev)"
  echo "0 passed, ${#targets[@]} failed"; exit 1
fi
WARN=$(sed -n 's/^WARN *:= *//p' Makefile)
[ -n "$WARN" ] || WARN="-Wall -Wextra -Werror"
CFLAGS="-std=c11 -D_GNU_SOURCE $WARN -Isrc -Ibuild/gen -g -O1 -fno-omit-frame-pointer
        -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all"
mkdir -p build/fuzz

# ---- build ---------------------------------------------------------------------------------
declare -A BUILT=()
for t in "${targets[@]}"; do
  libs=${LIBS[$t]}
  # shellcheck disable=SC2086
  if $CC $CFLAGS $(pkg-config --cflags $libs 2>/dev/null) -o "build/fuzz/fuzz_$t" \
        "tests/fuzz/fuzz_$t.c" ${SOURCES[$t]} $( [ -n "$libs" ] && pkg-config --libs $libs ) \
        > "$tmp/build-$t.log" 2>&1; then
    BUILT[$t]=1
  else
    echo "FAIL fuzz.$t: build failed"
    sed 's/^/       /' "$tmp/build-$t.log" | head -n 30
    fail=$((fail + 1))
  fi
done

# ---- run -------------------------------------------------------------------------------------
run_one() {  # $1 = target; writes $tmp/<target>.rc and $tmp/<target>.log
  local t=$1 dir=$tmp/$t
  mkdir -p "$dir/corpus" "build/fuzz/artifacts/$t"
  cp -R "tests/fuzz/corpus/$t/." "$dir/corpus/"
  local dict=()
  [ -f "tests/fuzz/dict/$t.dict" ] && dict=("-dict=tests/fuzz/dict/$t.dict")
  # -timeout: one input taking over 10 s is a hang; the outer timeout bounds the whole run.
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  timeout -k 10 $((secs + 120)) "build/fuzz/fuzz_$t" "$dir/corpus" \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="${MAXLEN[$t]}" \
      -artifact_prefix="build/fuzz/artifacts/$t/" -print_final_stats=1 "${dict[@]}" \
      > "$dir.log" 2>&1
  echo $? > "$dir.rc"
}

# Fuzz logs echo raw input bytes: keep what we print readable.
printable() { LC_ALL=C tr -c '[:print:]\t\n' '?'; }

start=$(date +%s)
queue=()
for t in "${targets[@]}"; do [ -n "${BUILT[$t]:-}" ] && queue+=("$t"); done
echo "fuzzing ${queue[*]:-nothing} for ${secs} s each, $jobs at a time"
running=()
for t in "${queue[@]}"; do
  while [ ${#running[@]} -ge "$jobs" ]; do
    wait -n 2>/dev/null
    still=()
    for p in "${running[@]}"; do kill -0 "$p" 2>/dev/null && still+=("$p"); done
    running=("${still[@]}")
  done
  run_one "$t" &
  pids+=($!); running+=($!)
done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
pids=()

for t in "${queue[@]}"; do
  log=$tmp/$t.log
  rc=$(cat "$tmp/$t.rc" 2>/dev/null || echo 99)
  runs=$(grep -aoE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -aoE '[0-9]+$' | tail -n 1)
  cov=$(grep -aoE 'cov: [0-9]+' "$log" | tail -n 1 | grep -aoE '[0-9]+')
  problem=$(grep -a -m 1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|invariant violated|==[0-9]+== ?ERROR' "$log" | printable)
  if [ "$rc" -eq 0 ] && [ -z "$problem" ]; then
    echo "PASS fuzz.$t (${runs:-?} inputs, coverage ${cov:-?} edges, corpus $(ls "tests/fuzz/corpus/$t" | wc -l) seeds)"
    pass=$((pass + 1))
  else
    [ "$rc" -eq 124 ] && problem="${problem:-the run did not finish within $((secs + 120)) s}"
    echo "FAIL fuzz.$t (exit $rc): ${problem:-see log}"
    artifact=$(grep -aoE 'Test unit written to [^ ]+' "$log" | tail -n 1 | sed 's/Test unit written to //')
    if [ -n "$artifact" ]; then
      echo "       reproducer: $repo/$artifact"
      echo "       replay:     build/fuzz/fuzz_$t $artifact"
    fi
    cp "$log" "build/fuzz/artifacts/$t/last-failure.log" 2>/dev/null
    echo "       log: $repo/build/fuzz/artifacts/$t/last-failure.log; its tail:"
    grep -avE '^#[0-9]+' "$log" | tail -n 25 | printable | sed 's/^/       /'
    fail=$((fail + 1))
  fi
done
echo "fuzzing took $(( $(date +%s) - start )) s"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
