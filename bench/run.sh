#!/usr/bin/env bash
# bench/run.sh BIN: the docs/workload.md scenarios against hotpath with wrk, then the before/after
# comparison and ablation of bench/ablation.sh (see bench/README.md).
#
#   BENCH_SCALE=1.0       demo data set scale (the database is cached in build/bench/)
#   BENCH_SECONDS=15      measured seconds per scenario
#   BENCH_WARMUP=5        warm-up seconds per scenario (0 skips it)
#   BENCH_SCENARIOS="S1u S1z S2 S3 S4"   which scenarios, in order
#   BENCH_PROBE_SECONDS=3 seconds of each of the two probe runs per scenario (0 skips them)
#   BENCH_THREADS=2 BENCH_CONNECTIONS=64   wrk's -t and -c
#   BENCH_SERVER_ARGS=""  extra arguments for `hotpath serve` (e.g. "--server-threads 1")
#   BENCH_HELLO=PATH      the fixed-bytes baseline (default: bench/hello beside the binary,
#                         as the Makefile builds it); "none" skips it. Runs only with S1z.
#   BENCH_HELLO_THREADS=N its event loops (default: --server-threads from BENCH_SERVER_ARGS,
#                         else the core count, which is hotpath's default)
#   BENCH_DASHBOARD=1     0 skips the dashboard screenshot (<results>-dashboard.png)
#   BENCH_OUT=FILE        where to write the results (default bench/results/<date>[-suffix].md);
#                         the chart goes beside it, with .svg for .md
#   BENCH_README=auto     whether to rewrite README.md's figures: auto = after a standard run
#                         only (default scale, durations, scenarios and output); 1, 0, or a path
#   BENCH_ABLATION=1 ...  the before/after and ablation runs: see bench/ablation.sh (0 skips)
#   BENCH_PG=auto ...     the same scenarios against PostgreSQL, beside pgbench: see bench/pg.sh
#                         (0 skips; 1 fails the run when PostgreSQL cannot be started)
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
SCENARIOS=${BENCH_SCENARIOS:-"S1u S1z S2 S3 S4"}
PROBE=${BENCH_PROBE_SECONDS:-3}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
SEED=1
HELLO=${BENCH_HELLO:-$(dirname "$BIN")/bench/hello}
# hello gets as many event loops as hotpath has, so the two differ in the handler only.
HELLO_THREADS=${BENCH_HELLO_THREADS:-$(sed -n 's/.*--server-threads[= ]*\([0-9][0-9]*\).*/\1/p' <<<"${BENCH_SERVER_ARGS:-}")}
HELLO_THREADS=${HELLO_THREADS:-$(nproc)}

for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (make deps)" >&2; exit 1; }
done
case "$MEASURE$WARMUP$PROBE" in
  *[!0-9]*) echo "bench: BENCH_SECONDS/BENCH_WARMUP/BENCH_PROBE_SECONDS are whole seconds" >&2; exit 2;;
esac
[ "$MEASURE" -ge 1 ] || { echo "bench: BENCH_SECONDS must be at least 1" >&2; exit 2; }
# shellcheck source=bench/ablation.sh
. bench/ablation.sh
# shellcheck source=bench/pg.sh
. bench/pg.sh

# The tree the run starts from (the binary is assumed to be built from it, as make bench does).
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo "no commit")
DIRTY=""
if [ -n "$(git status --porcelain 2>/dev/null)" ]; then DIRTY=" (with uncommitted changes)"; fi

# Other work on the machine skews every figure; the report records how busy it was.
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")

# The results file (and the charts beside it), named when the run starts: the date it started,
# and a suffix for a run that is not the standard one, so a smoke run never overwrites the
# day's real figures.
DATE=$(date +%F)
SUFFIX=""
if [ "$SCALE" != "1.0" ] && [ "$SCALE" != "1" ]; then SUFFIX="$SUFFIX-scale$SCALE"; fi
if [ "$MEASURE" != 15 ] || [ "$WARMUP" != 5 ]; then SUFFIX="$SUFFIX-${WARMUP}s+${MEASURE}s"; fi
if [ "$PROBE" != 3 ]; then SUFFIX="$SUFFIX-probe${PROBE}s"; fi
OUT=${BENCH_OUT:-bench/results/$DATE$SUFFIX.md}

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

# --- servers (hotpath, then bench/hello), one at a time ---
# A port no socket uses, below the kernel's range for outgoing connections: wrk's many
# connections leave ports of that range in TIME_WAIT, and a listener cannot bind those.
port_is_free() { [ -z "$(ss -Htan "sport = :$1" 2>/dev/null)" ]; }
EPHEMERAL_LOW=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$EPHEMERAL_LOW" -gt 12000 ] || EPHEMERAL_LOW=61000
free_port() {
  local candidate
  for _ in $(seq 1 50); do
    candidate=$((10000 + RANDOM % (EPHEMERAL_LOW - 10000)))
    if port_is_free "$candidate"; then echo "$candidate"; return 0; fi
  done
  echo "bench: found no free port" >&2
  return 1
}

SERVER_PID=""
SERVER_LOG=""
stop_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}
# Everything the run started goes with it: the server of the moment, and the PostgreSQL
# cluster and pool sampler of bench/pg.sh.
cleanup() {
  stop_server
  pg_cleanup
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server LOG BASE COMMAND...: starts COMMAND in the background (output to LOG) and waits
# until BASE/ answers.
start_server() {
  local base=$2
  SERVER_LOG=$1
  shift 2
  "$@" >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  for i in $(seq 1 300); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      echo "bench: $1 exited; its log ($SERVER_LOG):" >&2
      cat "$SERVER_LOG" >&2
      exit 1
    fi
    curl -s -o /dev/null --max-time 1 "$base/" && return 0
    [ "$i" -eq 300 ] && { echo "bench: no answer on $base/ after 30 s" >&2; exit 1; }
    sleep 0.1
  done
}

# free_ports: sets PORT and ADMIN_PORT (two different free ports), BASE and ADMIN_BASE.
free_ports() {
  PORT=$(free_port)
  ADMIN_PORT=$(free_port)
  while [ "$ADMIN_PORT" = "$PORT" ]; do ADMIN_PORT=$(free_port); done
  BASE="http://127.0.0.1:$PORT"
  ADMIN_BASE="http://127.0.0.1:$ADMIN_PORT"
}

free_ports
# shellcheck disable=SC2086 # BENCH_SERVER_ARGS is a list of words on purpose
start_server build/bench/server.log "$BASE" \
  "$BIN" serve --db-uri "$DB" --server-host 127.0.0.1 --server-port "$PORT" \
  --admin-server-port "$ADMIN_PORT" ${BENCH_SERVER_ARGS:-}
echo "bench: serving $DB on $BASE (pid $SERVER_PID, admin $ADMIN_BASE)"

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
    echo "bench: the server died during $1 (exit status $code); last lines of $SERVER_LOG:" >&2
    tail -n 20 "$SERVER_LOG" >&2
    SERVER_PID=""
    exit 1
  fi
}

# Prints the value of key=value in an HPBENCH line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

# CPU time in clock ticks (user + system) of process $1; with a second argument "children",
# that of its children which have been waited for (the way to time wrk, a child of this shell).
TICKS_PER_SECOND=$(getconf CLK_TCK)
cpu_ticks() {
  local stat mode=${2:-}
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  # Fields after "pid (comm) ": 1 is state, 12/13 utime/stime, 14/15 cutime/cstime.
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- ${stat##*) }
  if [ "$mode" = children ]; then echo $(( ${14} + ${15} )); else echo $(( ${12} + ${13} )); fi
}
# Percent of one core over the measured seconds (so 200 is both cores of a 2-core machine).
cpu_percent() { awk -v t="$1" -v hz="$TICKS_PER_SECOND" -v s="$MEASURE" 'BEGIN { printf "%.0f", 100 * t / hz / s }'; }

# warm_up LABEL SCRIPT ARGS: the warm-up wrk run against $BASE (its figures are thrown away).
warm_up() {
  local label=$1 script=$2 args=$3
  [ "$WARMUP" -gt 0 ] || return 0
  echo "bench: $label warm-up ${WARMUP}s"
  # shellcheck disable=SC2086 # args is empty or one word
  wrk -t"$THREADS" -c"$CONNECTIONS" --timeout 10s -s "bench/wrk/$script" -d"${WARMUP}s" "$BASE" \
    -- $args >/dev/null 2>&1 || true
  server_alive_or_die "$label (warm-up)"
}

# measure LABEL SCRIPT ARGS: the warm-up and measured wrk runs against $BASE. Sets LINE (the
# HPBENCH summary) and CPU ("server% / wrk%" over the measured run).
measure() {
  warm_up "$@"
  measure_run "$@"
}

# measure_run LABEL SCRIPT ARGS: the measured wrk run alone (as measure).
measure_run() {
  local label=$1 script=$2 args=$3 out server_before wrk_before
  local wrk_cmd=(wrk -t"$THREADS" -c"$CONNECTIONS" --timeout 10s -s "bench/wrk/$script")
  echo "bench: $label measuring ${MEASURE}s"
  server_before=$(cpu_ticks "$SERVER_PID")
  wrk_before=$(cpu_ticks $$ children)
  # shellcheck disable=SC2086
  out=$("${wrk_cmd[@]}" -d"${MEASURE}s" "$BASE" -- $args 2>&1 || true)
  CPU="$(cpu_percent $(( $(cpu_ticks "$SERVER_PID") - server_before ))) / $(cpu_percent $(( $(cpu_ticks $$ children) - wrk_before )))"
  server_alive_or_die "$label"
  LINE=$(grep '^HPBENCH ' <<<"$out" || true)
  if [ -z "$LINE" ]; then
    echo "bench: wrk printed no summary for $label:" >&2
    echo "$out" >&2
    exit 1
  fi
}

# probe LABEL SCRIPT ARGS: two short runs of SCRIPT under probe.lua, which counts Cache-Status
# values, one without and one with Accept-Encoding: gzip, br. Sets HITS and WIRE, each
# "identity / gzip,br": the share of responses that were cache hits, and bytes read per
# response (status line and headers included). They come after the measured run, so the
# response() they need never slows it.
probe() {
  local label=$1 script=$2 args=$3 plain packed
  HITS="-" WIRE="-"
  [ "$PROBE" -gt 0 ] || return 0
  echo "bench: $label probing 2 x ${PROBE}s (Cache-Status, bytes per response)"
  local wrk_cmd=(wrk -t"$THREADS" -c"$CONNECTIONS" --timeout 10s -d"${PROBE}s" -s bench/wrk/probe.lua)
  # shellcheck disable=SC2086 # args is empty or one word
  plain=$(HPBENCH_SCRIPT=$script "${wrk_cmd[@]}" "$BASE" -- $args 2>&1 | grep '^HPBENCH ' || true)
  # shellcheck disable=SC2086
  packed=$(HPBENCH_SCRIPT=$script "${wrk_cmd[@]}" -H 'Accept-Encoding: gzip, br' "$BASE" -- $args 2>&1 |
    grep '^HPBENCH ' || true)
  server_alive_or_die "$label (probe)"
  if [ -z "$plain" ] || [ -z "$packed" ]; then
    echo "bench: a probe run of $label printed no summary" >&2
    return 0
  fi
  echo "bench: $label cache hit/fwd/none: identity $(field cache_hit "$plain")/$(field cache_fwd "$plain")/$(field cache_none "$plain")," \
    "gzip,br $(field cache_hit "$packed")/$(field cache_fwd "$packed")/$(field cache_none "$packed")"
  HITS="$(hit_percent "$plain") / $(hit_percent "$packed")"
  WIRE="$(per_response "$plain") / $(per_response "$packed")"
}
# The share of cache hits in a probe's summary line, or "-" when no response had Cache-Status.
hit_percent() {
  awk -v h="$(field cache_hit "$1")" -v f="$(field cache_fwd "$1")" -v n="$(field cache_none "$1")" \
    'BEGIN { if (h + f == 0) print "-"; else printf "%.1f%%", 100 * h / (h + f + n) }'
}
per_response() {
  awk -v b="$(field bytes "$1")" -v r="$(field requests "$1")" 'BEGIN { if (r > 0) printf "%.0f", b / r; else print "-" }'
}

# queries_per_request BEFORE AFTER: database statements per API request between two
# scrape_metrics lines ("-" when no request was answered).
queries_per_request() {
  local b_req b_stmt a_req a_stmt
  read -r b_req b_stmt _ <<<"$1"
  read -r a_req a_stmt _ <<<"$2"
  awk -v s=$((a_stmt - b_stmt)) -v r=$((a_req - b_req)) 'BEGIN { if (r > 0) printf "%.2f", s / r; else print "-" }'
}

TABLE="| scenario | what | requests/s | p50 ms | p99 ms | non-2xx | socket errors | CPU % server / wrk | DB queries / request | cache hits (identity / gzip,br) | bytes per response on the wire (identity / gzip,br) | sample body bytes (identity / gzip,br) |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
# row ID WHAT PLAIN PACKED: a table row from LINE, CPU, QPR, HITS and WIRE.
row() {
  local r
  printf -v r '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |' "$1" "$2" \
    "$(field rps "$LINE")" "$(field p50_ms "$LINE")" "$(field p99_ms "$LINE")" \
    "$(field non2xx "$LINE")" "$(field socket_errors "$LINE")" "$CPU" "$QPR" "$HITS" "$WIRE" "$3" "$4"
  TABLE="$TABLE
$r"
}

S1Z_RPS="" S1Z_SAMPLE="" HELLO_BODY=build/bench/hello.body HELLO_TYPE=""
for id in $SCENARIOS; do
  spec=$(scenario "$id") || { echo "bench: unknown scenario $id" >&2; exit 2; }
  IFS='|' read -r script args sample what <<<"$spec"
  status=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$sample")
  plain=$(curl -s -o /dev/null -w '%{size_download}' "$BASE$sample")
  packed=$(curl -s -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip, br' "$BASE$sample")
  [ "$status" = 200 ] || echo "bench: $id sample answered $status: $BASE$sample" >&2
  if [ "$id" = S1z ]; then
    # hello's body and Content-Type: exactly what the measured S1z requests (no
    # Accept-Encoding) get for the sample id.
    HELLO_TYPE=$(curl -s -o "$HELLO_BODY" -w '%{content_type}' "$BASE$sample")
    S1Z_SAMPLE=$sample
  fi

  warm_up "$id" "$script" "$args"
  before=$(scrape_metrics)
  measure_run "$id" "$script" "$args"
  QPR=$(queries_per_request "$before" "$(scrape_metrics)")
  probe "$id" "$script" "$args"
  row "$id" "$what" "$plain" "$packed"
  if [ "$id" = S1z ]; then S1Z_RPS=$(field rps "$LINE"); fi
done
stop_server

# --- the ceiling: bench/hello serving the S1z sample's bytes, the same wrk runs ---
HELLO_NOTE=""
RATIO_LINES=""
if [ -z "$S1Z_RPS" ]; then
  HELLO_NOTE="hello baseline not run (S1z is not among BENCH_SCENARIOS)"
elif [ "$HELLO" = none ]; then
  HELLO_NOTE="hello baseline not run (BENCH_HELLO=none)"
elif [ ! -x "$HELLO" ]; then
  HELLO_NOTE="hello baseline not run: $HELLO is not built (make $HELLO)"
  echo "bench: $HELLO_NOTE" >&2
else
  PORT=$(free_port)
  BASE="http://127.0.0.1:$PORT"
  start_server build/bench/hello.log "$BASE" \
    "$HELLO" -p "$PORT" -t "$HELLO_THREADS" -T "$HELLO_TYPE" -f "$HELLO_BODY"
  echo "bench: hello ($HELLO_THREADS threads) on $BASE (pid $SERVER_PID)"
  spec=$(scenario S1z)
  IFS='|' read -r script args sample what <<<"$spec"
  plain=$(curl -s -o /dev/null -w '%{size_download}' "$BASE$S1Z_SAMPLE")
  packed=$(curl -s -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip, br' "$BASE$S1Z_SAMPLE")
  measure hello "$script" "$args"
  QPR="-"
  probe hello "$script" "$args"
  row hello "bench/hello: S1z's URLs, one fixed S1z body" "$plain" "$packed"
  HELLO_RPS=$(field rps "$LINE")
  stop_server
  HELLO_NOTE="hello: bench/hello, a bare h2o 2.2.5 handler with $HELLO_THREADS threads answering every GET with the S1z sample's $(wc -c <"$HELLO_BODY") body bytes ($HELLO_TYPE); wrk sends it S1z's URLs with s1z.lua and the same settings"
  RATIO_LINES=$(awk -v z="$S1Z_RPS" -v h="$HELLO_RPS" 'BEGIN {
    r = z / h
    printf "- S1z / hello = %.0f / %.0f requests/s = **%.2f** (target >= 0.75: %s)\n", z, h, r, (r >= 0.75 ? "met" : "NOT met")
    printf "- S1z = %.0f requests/s (target >= 100,000: %s)", z, (z >= 100000 ? "met" : "NOT met")
  }')
fi

# --- every optimization off, all on, each off in turn (bench/ablation.sh) ---
ABLATION_RAN=0
if ablation_ready; then
  ablation_run
  ABLATION_RAN=1
fi

# --- PostgreSQL: the scenarios, S1u beside pgbench, the ablation for S1u (bench/pg.sh) ---
if pg_ready; then
  pg_run
fi
bench/stream.sh "$BIN" "$DB" "${OUT%.md}-stream.md" || echo "bench: bench/stream.sh failed" >&2  # streamed results: RSS, rows/s
bench/ratelimit.sh "$BIN" "$DB" "${OUT%.md}-ratelimit.md" || echo "bench: bench/ratelimit.sh failed" >&2  # rate limit: admitted vs burst + rate x 60 s
bench/overload.sh "$BIN" "$DB" "${OUT%.md}-overload.md" || echo "bench: bench/overload.sh failed" >&2  # overload admission: goodput and p99 vs offered load

# --- report ---
MODEL=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
MEM=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
mkdir -p "$(dirname "$OUT")"

# README.md shows the figures of standard runs only, unless BENCH_README says otherwise.
README_TARGET=""
case "${BENCH_README:-auto}" in
  auto) if [ -z "$SUFFIX" ] && [ -z "${BENCH_OUT:-}" ] && [ "$SCENARIOS" = "S1u S1z S2 S3 S4" ]; then
          README_TARGET=README.md
        fi;;
  0) ;;
  1) README_TARGET=README.md;;
  *) README_TARGET=$BENCH_README;;
esac
ABL_SECTION="- ${ABL_NOTE:-before/after and ablation not run}"
if [ "$ABLATION_RAN" = 1 ]; then
  # The README block also gets the ratio lines: S1z / hello, and PostgreSQL's S1u / pgbench.
  printf '%s\n' "$RATIO_LINES" "$PG_RATIO_LINE" | sed '/^$/d' >build/bench/readme-extra.md
  if ABL_SECTION=$(ablation_report "$OUT" "$DATE" "$README_TARGET" build/bench/readme-extra.md); then
    [ -z "$README_TARGET" ] || echo "bench: figures written to $README_TARGET"
  else
    ABL_SECTION="- the before/after report failed (see the run's output); raw figures: $ABL_TSV"
  fi
fi

# The live dashboard, as a screenshot kept beside the results: tests/dashboard opens it in
# headless Chromium while it loads a server of its own (BENCH_DASHBOARD=0 skips it).
DASHBOARD_SECTION=""
if [ "${BENCH_DASHBOARD:-1}" != 0 ]; then
  shot="${OUT%.md}-dashboard.png"
  if HP_DASHBOARD_SCREENSHOT="$ROOT/$shot" scripts/test-dashboard.sh "$BIN" > build/bench/dashboard.log 2>&1; then
    DASHBOARD_SECTION="## The live dashboard

The admin port's /dashboard in headless Chromium under the dashboard test's own load
(tests/dashboard/run.js), taken by this run:

![the live dashboard]($(basename "$shot"))"
    echo "bench: dashboard screenshot written to $shot"
  else
    DASHBOARD_SECTION="- the dashboard screenshot failed (build/bench/dashboard.log)"
  fi
fi

if [ "$PROBE" -gt 0 ]; then
  PROBE_NOTE="cache hits (share of \`Cache-Status: hotpath; hit\` responses) and bytes per response on the wire (wrk's bytes read / requests, headers included) come from two ${PROBE} s probe runs after each measured one, with and without \`Accept-Encoding: gzip, br\`"
else
  PROBE_NOTE="cache hits and bytes per response on the wire not measured (BENCH_PROBE_SECONDS=0)"
fi
REPORT="# hotpath bench, $DATE

- machine: $(nproc) cores, ${MODEL:-unknown CPU}, ${MEM:-? memory}; $(uname -sr); load average $LOAD_AT_START before the run, $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?") after
- the load generators (wrk, and bench/loadgen below) run on this same machine and share its $(nproc) cores with the server
- wrk on the same machine: $THREADS threads, $CONNECTIONS connections, keep-alive, closed loop (each connection sends its next request when the answer arrives); ${WARMUP} s warm-up, then ${MEASURE} s measured per scenario; wrk and the server share the $(nproc) cores (CPU %: of one core, over the measured run)
- $("$BIN" version 2>/dev/null | head -n 1 || echo hotpath), commit $COMMIT$DIRTY; \`serve\` with default settings${BENCH_SERVER_ARGS:+ plus \`$BENCH_SERVER_ARGS\`}
- data: shopiot (docs/workload.md) at scale $SCALE, seed $SEED, SQLite file $(du -h "$DB" | cut -f1)
- DB queries / request: change of \`hotpath_db_statements_total\` / change of \`hotpath_http_requests_total\` (the admin port's \`/metrics\`, read before and after the measured run)
- non-2xx: responses with status >= 400 (as wrk counts them); $PROBE_NOTE; sample body bytes: one sample request's body
- $HELLO_NOTE

## Every scenario with the default settings (wrk)

$TABLE
${RATIO_LINES:+
$RATIO_LINES
}
$ABL_SECTION
$PG_SECTION
$DASHBOARD_SECTION"
echo
echo "$REPORT"
echo "$REPORT" > "$OUT"
echo "bench: written to $OUT"
