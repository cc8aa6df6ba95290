#!/usr/bin/env bash
# libFuzzer targets (clang): `fuzz.sh build` builds them into build/fuzz/, `fuzz.sh smoke`
# builds, replays every committed corpus and regression file, then fuzzes each target for
# FUZZ_SECONDS (default 20). Longer by hand: build/fuzz/fuzz_query -max_total_time=600 fuzz/corpus/query
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-smoke}
out=build/fuzz
mkdir -p "$out"
pkgs="libh2o-evloop openssl jansson libxxhash zlib libbrotlienc libzstd"
cflags="-std=c11 -D_GNU_SOURCE -DH2O_USE_LIBUV=0 -O1 -g -Isrc $(pkg-config --cflags $pkgs)"
libs="$(pkg-config --libs $pkgs) -lpthread -lm"
# The pure modules a target may use: no sockets, no database.
srcs=$(ls src/core/*.c src/query/*.c src/db/schema.c src/compress/*.c)
for target in fuzz/fuzz_*.c; do
  name=$(basename "$target" .c)
  clang $cflags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    -o "$out/$name" "$target" $srcs $libs
done
[ "$mode" = build ] && exit 0

secs=${FUZZ_SECONDS:-20}
for target in fuzz/fuzz_*.c; do
  name=$(basename "$target" .c)
  short=${name#fuzz_}
  corpus=fuzz/corpus/$short
  work=fuzz/corpus-work/$short
  mkdir -p "$corpus" "$work"
  # Replay what is committed (seeds and past crashes) first: a regression fails here.
  if [ -d "fuzz/regressions/$short" ] && ls "fuzz/regressions/$short"/* >/dev/null 2>&1; then
    "$out/$name" -runs=0 "fuzz/regressions/$short"/* >/dev/null 2>&1 || { echo "fuzz: regression in $name"; exit 1; }
  fi
  "$out/$name" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/$name-" "$work" "$corpus" 2>"$out/$name.log" \
    || { tail -40 "$out/$name.log"; echo "fuzz: $name found a crash (artifact in $out/)"; exit 1; }
  echo "fuzz: $name ran ${secs}s: $(grep -E 'stat::number_of_executed_units' "$out/$name.log" | awk '{print $2}') inputs, no crash"
  fuzz_passed=$((${fuzz_passed:-0} + 1))
done
echo "fuzz: ${fuzz_passed:-0} passed, 0 failed"
