#!/usr/bin/env bash
# Runs the data-driven HTTP spec suite (tests/spec/cases/*.case) against a hotpath binary.
#   scripts/test-spec.sh BIN                    every case file
#   scripts/test-spec.sh BIN filters            one file (name or path)
#   scripts/test-spec.sh BIN filters:'in list'  one case of it, by title
# The runner's last line is "N passed, N failed"; the exit status is non-zero on any failure.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 BIN [FILE[:CASE-TITLE]]" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exec python3 "$here/tests/spec/run.py" "$@"
