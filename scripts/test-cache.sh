#!/usr/bin/env bash
# Runs the response cache and compression suite (tests/cache/run.py) against a hotpath binary:
# its own servers on fresh SQLite files, one line per test, ending with "N passed, N failed".
#   scripts/test-cache.sh BIN
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: $0 BIN" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec python3 "$here/tests/cache/run.py" "$1"
