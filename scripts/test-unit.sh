#!/usr/bin/env bash
# Runs each cmocka unit-test binary given on the command line, each under a timeout, and
# ends with the total of their test cases: "unit: N passed, N failed".
set -u
# The PostgreSQL unit tests (test_db_pg_*) need a server: one throwaway cluster for the run,
# unless HP_TEST_PG already names one; stopped by PID (scripts/pg-cluster.sh) on exit.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
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
failed=0; passed=0; bad_binaries=0
for t in "$@"; do
  case "$t" in *.d) continue ;; esac
  [ -x "$t" ] || continue
  out=$(timeout 120 "$t" 2>&1); rc=$?
  printf '%s\n' "$out"
  run=$(printf '%s\n' "$out" | sed -n 's/^\[==========\] \([0-9]*\) test(s) run\./\1/p' | tail -1)
  bad=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' | tail -1)
  run=${run:-0}; bad=${bad:-0}
  if [ $rc -ne 0 ] && [ "$bad" -eq 0 ]; then bad=1; fi  # crashed or timed out
  passed=$((passed + run - bad)); failed=$((failed + bad))
  [ $rc -eq 0 ] || { echo "FAILED: $t"; bad_binaries=$((bad_binaries + 1)); }
done
echo "unit: $passed passed, $failed failed"
[ "$bad_binaries" -eq 0 ]
