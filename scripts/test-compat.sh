#!/usr/bin/env bash
# Runs the postgrest-js compatibility tests (tests/compat/*.test.mjs) against a hotpath binary
# under node's built-in test runner, which prints its own pass/fail summary.
#   scripts/test-compat.sh BIN
# Installs the pinned client (npm ci, from package-lock.json) when node_modules is missing.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 BIN" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
[ -x "$bin" ] || { echo "test-compat: $1 is not an executable" >&2; exit 2; }
cd "$here/tests/compat"
if [ ! -d node_modules/@supabase/postgrest-js ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
export HOTPATH_BIN="$bin"
# node's own summary ("# pass N" / "# fail N"), then the plain line test-all.sh adds up.
out=$(mktemp)
set +e
node --test ./*.test.mjs | tee "$out"
rc=${PIPESTATUS[0]}
set -e
pass=$(awk '/^# pass /{print $3}' "$out"); fail=$(awk '/^# fail /{print $3}' "$out")
rm -f "$out"
echo "compat: ${pass:-0} passed, ${fail:-0} failed"
exit "$rc"
