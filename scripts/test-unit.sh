#!/usr/bin/env bash
# Runs each cmocka unit-test binary given on the command line, each under a timeout.
set -u
failed=0; passed=0
for t in "$@"; do
  case "$t" in *.d) continue ;; esac
  [ -x "$t" ] || continue
  if timeout 120 "$t"; then passed=$((passed + 1)); else echo "FAILED: $t"; failed=$((failed + 1)); fi
done
echo "unit binaries: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
