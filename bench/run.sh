#!/usr/bin/env bash
# bench/run.sh BIN: the WORKLOAD.md scenarios against hotpath with wrk (see bench/README.md).
#
#   BENCH_SCALE=1.0       demo data set scale (the database is cached in build/bench/)
#   BENCH_SECONDS=15      measured seconds per scenario
#   BENCH_WARMUP=5        warm-up seconds per scenario (0 skips it)
#   BENCH_SCENARIOS="S1u S2 S3 S4"   which scenarios (S1z also exists)
#   BENCH_THREADS=2 BENCH_CONNECTIONS=64   wrk's -t and -c
#   BENCH_SERVER_ARGS=""  extra arguments for `hotpath serve` (e.g. "--server-threads 1")
#   BENCH_OUT=FILE        where to write the results (default bench/results/<date>[-suffix].md)
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1" ]; then
  echo "usage: bench/run.sh PATH-TO-HOTPATH-BINARY" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

SCALE=${BENCH_SCALE:-1.0}
MEASURE=${BENCH_SECONDS:-15}
WARMUP=${BENCH_WARMUP:-5}
SCENARIOS=${BENCH_SCENARIOS:-"S1u S2 S3 S4"}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
SEED=1

for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (make deps)" >&2; exit 1; }
done
case "$MEASURE$WARMUP" in *[!0-9]*) echo "bench: BENCH_SECONDS/BENCH_WARMUP are whole seconds" >&2; exit 2;; esac
[ "$MEASURE" -ge 1 ] || { echo "bench: BENCH_SECONDS must be at least 1" >&2; exit 2; }

# The tree the run starts from (the binary is assumed to be built from it, as make bench does).
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo "no commit")
DIRTY=""
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then DIRTY=" (with uncommitted changes)"; fi

# Other work on the machine skews every figure; the report records how busy it was.
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

# Row counts at this scale, rounded as src/demo/dataset.c rounds them (at least 1 row).
rows() { awk -v full="$1" -v s="$SCALE" 'BEGIN { n = int(full * s + 0.5); print (n < 1 ? 1 : n) }'; }
USERS=$(rows 100000)
DEVICES=$(rows 10000)

# --- the database, built once per scale and generator version ---
mkdir -p build/bench
if [ "$SCALE" = "1.0" ] || [ "$SCALE" = "1" ]; then
  DB=build/bench/demo.db
else
  DB=build/bench/demo-scale$SCALE.db
fi
# The stamp names what the file was built from; a changed generator rebuilds it.
STAMP="scale=$SCALE seed=$SEED $(cat src/demo/dataset.c src/demo/dataset.h src/db/sqlite/demo_load.c | cksum)"
if [ ! -f "$DB" ] || [ "$(cat "$DB.stamp" 2>/dev/null)" != "$STAMP" ]; then
  echo "bench: building $DB (scale $SCALE)"
  "$BIN" demo --scale "$SCALE" --seed "$SEED" --out "$DB" --force
  echo "$STAMP" > "$DB.stamp"
fi

# --- the server ---
port_is_free() { [ -z "$(ss -Hltn "sport = :$1" 2>/dev/null)" ]; }
PORT=""
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 40000))
  if port_is_free "$candidate"; then PORT=$candidate; break; fi
done
[ -n "$PORT" ] || { echo "bench: found no free port" >&2; exit 1; }
BASE="http://127.0.0.1:$PORT"

LOG=build/bench/server.log
SERVER_PID=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
}
trap stop_server EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2086 # BENCH_SERVER_ARGS is a list of words on purpose
"$BIN" serve --db-uri "$DB" --server-host 127.0.0.1 --server-port "$PORT" \
  ${BENCH_SERVER_ARGS:-} >"$LOG" 2>&1 &
SERVER_PID=$!
for i in $(seq 1 300); do
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "bench: the server exited; its log ($LOG):" >&2
    cat "$LOG" >&2
    exit 1
  fi
  curl -s -o /dev/null --max-time 1 "$BASE/" && break
  [ "$i" -eq 300 ] && { echo "bench: no answer on $BASE/ after 30 s" >&2; exit 1; }
  sleep 0.1
done
echo "bench: serving $DB on $BASE (pid $SERVER_PID)"

# --- scenarios ---
# id | wrk script | wrk args | a sample URL (for the response size) | what it is
scenario() {
  case "$1" in
    S1u) echo "s1u.lua|n=$USERS|/users?id=eq.4242&select=id,username,email|point lookup, uniform ids";;
    S1z) echo "s1z.lua|n=$USERS|/users?id=eq.7&select=id,username,email|point lookup, Zipf ids";;
    S2)  echo "s2.lua||/products?category_id=eq.42&select=id,name,price,product_details(description)&order=id&limit=50|list with join";;
    S3)  echo "s3.lua|n=$DEVICES|/readings?device_id=eq.3&select=temperature,ts&order=ts.desc&limit=100|IoT dashboard";;
    S4)  echo "s4.lua|n=$USERS|/orders?user_id=eq.3&status=eq.completed&order=created_at.desc&limit=20|a user's orders";;
    *) return 1;;
  esac
}

# A crashed server ends the run: figures measured against connection errors mean nothing.
server_alive_or_die() {
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    wait "$SERVER_PID" 2>/dev/null && code=0 || code=$?
    echo "bench: the server died during $1 (exit status $code); last lines of $LOG:" >&2
    tail -n 20 "$LOG" >&2
    SERVER_PID=""
    exit 1
  fi
}

# Prints the value of key=value in an HPBENCH line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

TABLE="| scenario | what | requests/s | p50 ms | p99 ms | non-2xx | socket errors | bytes (identity / gzip,br) |
|---|---|---:|---:|---:|---:|---:|---:|"
for id in $SCENARIOS; do
  spec=$(scenario "$id") || { echo "bench: unknown scenario $id" >&2; exit 2; }
  IFS='|' read -r script args sample what <<<"$spec"
  status=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$sample")
  plain=$(curl -s -o /dev/null -w '%{size_download}' "$BASE$sample")
  packed=$(curl -s -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip, br' "$BASE$sample")
  [ "$status" = 200 ] || echo "bench: $id sample answered $status: $BASE$sample" >&2

  wrk_cmd=(wrk -t"$THREADS" -c"$CONNECTIONS" --timeout 10s -s "bench/wrk/$script")
  # shellcheck disable=SC2086 # args is empty or one word
  if [ "$WARMUP" -gt 0 ]; then
    echo "bench: $id warm-up ${WARMUP}s"
    "${wrk_cmd[@]}" -d"${WARMUP}s" "$BASE" -- $args >/dev/null 2>&1 || true
    server_alive_or_die "$id (warm-up)"
  fi
  echo "bench: $id measuring ${MEASURE}s"
  # shellcheck disable=SC2086
  out=$("${wrk_cmd[@]}" -d"${MEASURE}s" "$BASE" -- $args 2>&1 || true)
  server_alive_or_die "$id"
  line=$(grep '^HPBENCH ' <<<"$out" || true)
  if [ -z "$line" ]; then
    echo "bench: wrk printed no summary for $id:" >&2
    echo "$out" >&2
    exit 1
  fi
  printf -v row '| %s | %s | %.0f | %s | %s | %s | %s | %s / %s |' "$id" "$what" \
    "$(field rps "$line")" "$(field p50_ms "$line")" "$(field p99_ms "$line")" \
    "$(field non2xx "$line")" "$(field socket_errors "$line")" "$plain" "$packed"
  TABLE="$TABLE
$row"
done
stop_server

# --- report ---
DATE=$(date +%F)
MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
MEM=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
SUFFIX=""
if [ "$SCALE" != "1.0" ] && [ "$SCALE" != "1" ]; then SUFFIX="$SUFFIX-scale$SCALE"; fi
if [ "$MEASURE" != 15 ] || [ "$WARMUP" != 5 ]; then SUFFIX="$SUFFIX-${WARMUP}s+${MEASURE}s"; fi
OUT=${BENCH_OUT:-bench/results/$DATE$SUFFIX.md}
mkdir -p "$(dirname "$OUT")"

REPORT="# hotpath bench, $DATE

- machine: $(nproc) cores, ${MODEL:-unknown CPU}, ${MEM:-? memory}; $(uname -sr); load average $LOAD_AT_START before the run, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?") after
- wrk on the same machine: $THREADS threads, $CONNECTIONS connections, keep-alive; ${WARMUP} s warm-up, then ${MEASURE} s measured per scenario
- $("$BIN" version 2>/dev/null | head -n 1 || echo hotpath), commit $COMMIT$DIRTY; \`serve\` with default settings${BENCH_SERVER_ARGS:+ plus \`$BENCH_SERVER_ARGS\`}
- data: shopiot (WORKLOAD.md) at scale $SCALE, seed $SEED, SQLite file $(du -h "$DB" | cut -f1)
- non-2xx: responses with status >= 400 (as wrk counts them); bytes: one sample request's body

$TABLE
"
echo
echo "$REPORT"
echo "$REPORT" > "$OUT"
echo "bench: written to $OUT"
