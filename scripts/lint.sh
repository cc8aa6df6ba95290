#!/usr/bin/env bash
# Lint: functions we never call (as curl bans them), generated docs in step with their tables,
# no unused cap in src/core/limits.h, README figures only from bench results, and every C file
# formatted as .clang-format says (`make test` runs all of it).
set -u
cd "$(dirname "$0")/.."
status=0
banned='\b(sprintf|vsprintf|strcpy|strcat|strncpy|strtok|atoi|atol|gets)[[:space:]]*\('
if grep -rnE "$banned" src tests/unit fuzz --include='*.c' --include='*.h'; then
  echo "lint: banned function used (see above); use snprintf, memcpy with lengths, strtoll" >&2
  status=1
fi
# The generated docs must match the tables they come from (make docs regenerates them).
bin=${HOTPATH_BIN:-build/release/hotpath}
if [ -x "$bin" ]; then
  for what in config errors; do
    if ! "$bin" docs "$what" | diff -q - "docs/$what.md" >/dev/null; then
      echo "lint: docs/$what.md is out of date: run make docs" >&2
      status=1
    fi
  done
fi
# Every cap in src/core/limits.h is used elsewhere in src/: a cap nothing checks is a promise
# the code does not keep.
for name in $(sed -nE 's/^#define (HP_[A-Z0-9_]+)[[:space:]]+[^[:space:]].*/\1/p' src/core/limits.h); do
  if ! grep -rlw --include='*.c' --include='*.h' "$name" src | grep -qv '^src/core/limits\.h$'; then
    echo "lint: $name (src/core/limits.h) is used nowhere else in src/: use it or delete it" >&2
    status=1
  fi
done
# Every figure in the README comes from a results file (bench/report.py writes the block
# between the bench markers; see its --check-readme).
if ! python3 bench/report.py --check-readme README.md; then
  echo "lint: README.md has figures that no bench/results file holds (see above)" >&2
  status=1
fi
files=$(git ls-files 'src/*.c' 'src/*.h' 'tests/unit/*.c' 'tests/unit/*.h' 'fuzz/*.c' 'bench/*.c' \
  'bench/*.h')
if ! clang-format --dry-run -Werror $files; then
  echo "lint: run clang-format -i on the files above" >&2
  status=1
fi
[ $status -eq 0 ] && echo "lint: 1 passed, 0 failed" || echo "lint: 0 passed, 1 failed"
exit $status
