#!/usr/bin/env bash
# Runs each cmocka unit-test binary given on the command line, each under a timeout, and
# ends with the total of their test cases: "unit: N passed, N failed, N skipped".
#   scripts/test-unit.sh build/<flavor>/tests/test_*
# Every unit-test source tests/unit/test_NAME.c must have its binary test_NAME among the
# arguments (less the names in HP_UNIT_NOT_BUILT, space-separated: those a flavor does not
# build; none today). A missing binary counts as one failed test, and so does a run given no
# binary at all: a suite that ran nothing never passes. cmocka's skipped tests (skip()) are
# counted apart, never as passed.
set -u
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# The binaries expected: one per source, less those this flavor does not build.
expected=()
for src in "$here"/tests/unit/test_*.c; do
  [ -e "$src" ] || continue
  name=$(basename "$src" .c)
  case " ${HP_UNIT_NOT_BUILT:-} " in *" $name "*) continue ;; esac
  expected+=("$name")
done
binaries=()
for t in "$@"; do
  case "$t" in *.d) continue ;; esac
  [ -f "$t" ] && [ -x "$t" ] && binaries+=("$t")
done
failed=0; passed=0; skipped=0; bad_binaries=0
for name in "${expected[@]}"; do
  found=0
  for t in "${binaries[@]+"${binaries[@]}"}"; do
    [ "$(basename "$t")" = "$name" ] && { found=1; break; }
  done
  if [ $found -eq 0 ]; then
    echo "FAILED: no binary for tests/unit/$name.c among the arguments (make build/<flavor>/tests/$name)"
    failed=$((failed + 1)); bad_binaries=$((bad_binaries + 1))
  fi
done
if [ ${#binaries[@]} -eq 0 ]; then
  echo "FAILED: no unit-test binary to run (arguments: $*)"
  [ ${#expected[@]} -eq 0 ] && failed=$((failed + 1))
  echo "unit: $passed passed, $failed failed, $skipped skipped"
  exit 1
fi

# The PostgreSQL unit tests (test_db_pg_*) need a server: one throwaway cluster for the run,
# unless HP_TEST_PG already names one; stopped by PID (scripts/pg-cluster.sh) on exit.
pg_dir=""
if [ -z "${HP_TEST_PG:-}" ]; then
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/hotpath-unit-pg.XXXXXX")
  trap '"$here/scripts/pg-cluster.sh" stop "$pg_dir" >/dev/null 2>&1; rm -rf "$pg_dir"' EXIT
  if HP_TEST_PG=$("$here/scripts/pg-cluster.sh" start "$pg_dir"); then
    export HP_TEST_PG
  else
    echo "unit: no PostgreSQL cluster could be started: the test_db_pg_* tests will fail" >&2
    export HP_TEST_PG=postgres://nobody@127.0.0.1:1/none
  fi
fi

# The sum of one count over cmocka's closing lines ("[  PASSED  ] 3 test(s).",
# "[  SKIPPED ] 1 test(s), listed below:", "[  FAILED  ] 2 test(s), listed below:").
count() {
  printf '%s\n' "$1" | sed -n "s/^\[  $2 *\] \([0-9]*\) test(s)[.,].*/\1/p" |
    awk '{ n += $1 } END { print n + 0 }'
}
for t in "${binaries[@]}"; do
  out=$(timeout 120 "$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  ok=$(count "$out" PASSED); skip=$(count "$out" SKIPPED); bad=$(count "$out" FAILED)
  if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi # crashed, timed out, or a setup failed
  passed=$((passed + ok)); skipped=$((skipped + skip)); failed=$((failed + bad))
  [ $rc -eq 0 ] || { echo "FAILED: $t (exit $rc)"; bad_binaries=$((bad_binaries + 1)); }
done
echo "unit: $passed passed, $failed failed, $skipped skipped"
[ "$bad_binaries" -eq 0 ] && [ "$failed" -eq 0 ]
