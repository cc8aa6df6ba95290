#!/usr/bin/env bash
# `make test`: every suite in order; each must pass. FLAVOR (release|san) picks the build.
set -u
cd "$(dirname "$0")/.."
flavor=${1:-release}
bin=build/$flavor/hotpath
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
passed=0; failed=0; failed_names=()
run() {
  local name=$1; shift
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then passed=$((passed + 1)); echo "=== $name: ok ($((SECONDS - start))s)"
  else failed=$((failed + 1)); failed_names+=("$name"); echo "=== $name: FAILED ($((SECONDS - start))s)"; fi
}
run lint scripts/lint.sh
run unit scripts/test-unit.sh build/$flavor/tests/test_*
run spec scripts/test-spec.sh "$bin"
run compat scripts/test-compat.sh "$bin"
run consistency python3 tests/consistency/run.py "$bin"
if [ "$flavor" = release ]; then run fuzz scripts/fuzz.sh smoke; fi
[ $failed -eq 0 ] || echo "failed suites: ${failed_names[*]}"
echo "suites: $passed passed, $failed failed"
[ $failed -eq 0 ]
