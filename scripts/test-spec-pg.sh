#!/usr/bin/env bash
# Runs the HTTP spec suite (tests/spec/cases/*.case) against a hotpath binary on PostgreSQL: a
# throwaway cluster in a temporary directory (scripts/pg-cluster.sh), a database per case file.
#   scripts/test-spec-pg.sh BIN                    every case file
#   scripts/test-spec-pg.sh BIN filters            one file (name or path)
#   scripts/test-spec-pg.sh BIN filters:'in list'  one case of it, by title
# The cluster is stopped (by its postmaster's PID) and removed on exit, however the run ends.
# The runner's last line, "N passed, N failed", is the last line on stdout; the exit status is
# the runner's (non-zero on any failure), or 1 when the cluster could not be started.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 BIN [FILE[:CASE-TITLE]]" >&2
  exit 2
fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir=$(mktemp -d "${TMPDIR:-/tmp}/hotpath-pg.XXXXXX")
cleanup() {
  "$here/scripts/pg-cluster.sh" stop "$dir" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
uri=$("$here/scripts/pg-cluster.sh" start "$dir") || { echo "test-spec-pg: no cluster" >&2; exit 1; }
echo "test-spec-pg: cluster at $uri" >&2
status=0
HP_SPEC_PG=$uri python3 "$here/tests/spec/run.py" "$@" || status=$?
exit $status
