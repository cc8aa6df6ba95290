#!/usr/bin/env bash
# `make test`: every suite in order; each must pass. FLAVOR (release|san) picks the build.
set -u
cd "$(dirname "$0")/.."
flavor=${1:-release}
bin=build/$flavor/hotpath
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
# Each suite ends with a line "N passed, N failed" (its own test count), maybe followed by
# ", N skipped"; the totals of those lines close the run as "all: N passed, N failed, N skipped".
# A suite that fails without such a line counts as one failed test.
passed=0; failed=0; skipped=0; failed_names=()
log=$(mktemp); trap 'rm -f "$log"' EXIT
run() {
  local name=$1; shift
  echo "=== $name"
  local start=$SECONDS rc
  "$@" 2>&1 | tee "$log"; rc=${PIPESTATUS[0]}
  local line p f s
  line=$(grep -E '(^|: )[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  p=$(printf '%s' "$line" | sed -nE 's/.*(^|: |^)([0-9]+) passed, ([0-9]+) failed.*/\2/p')
  f=$(printf '%s' "$line" | sed -nE 's/.*(^|: |^)([0-9]+) passed, ([0-9]+) failed.*/\3/p')
  s=$(printf '%s' "$line" | sed -nE 's/.* passed, [0-9]+ failed, ([0-9]+) skipped.*/\1/p')
  p=${p:-0}; f=${f:-0}; s=${s:-0}
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + s))
  if [ "$rc" -eq 0 ]; then echo "=== $name: ok ($((SECONDS - start))s)"
  else failed_names+=("$name"); echo "=== $name: FAILED ($((SECONDS - start))s)"; fi
}
run lint scripts/lint.sh
run unit scripts/test-unit.sh build/$flavor/tests/test_*
run spec scripts/test-spec.sh "$bin"
run spec-pg scripts/test-spec-pg.sh "$bin"
run pg python3 tests/pg/run.py "$bin"
run stream-pg python3 tests/stream_pg/run.py "$bin"
run batch python3 tests/batch/run.py "$bin"
run compat scripts/test-compat.sh "$bin"
run consistency python3 tests/consistency/run.py "$bin"
run cache scripts/test-cache.sh "$bin"
run metrics python3 tests/metrics/run.py "$bin"
run ratelimit python3 tests/ratelimit/run.py "$bin"
run accesslog python3 tests/accesslog/run.py "$bin"
run stream python3 tests/stream/run.py "$bin"
run shutdown python3 tests/shutdown/run.py "$bin"
run mutate python3 tests/mutate/run.py "$bin"
run overload python3 tests/overload/run.py "$bin"
run dashboard scripts/test-dashboard.sh "$bin"
if [ "$flavor" = release ]; then run fuzz scripts/fuzz.sh smoke; fi
[ ${#failed_names[@]} -eq 0 ] || echo "failed suites: ${failed_names[*]}"
echo "all: $passed passed, $failed failed, $skipped skipped"
[ ${#failed_names[@]} -eq 0 ] && [ $failed -eq 0 ]
