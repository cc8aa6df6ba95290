# shellcheck shell=bash
# bench/ablation.sh: sourced by bench/run.sh, not run alone. The before/after and ablation
# comparison (bench/README.md, "Before/after and ablation"): hotpath restarted once per
# configuration (every optimization off, all on, each optimization off in turn), and for each
# scenario wrk (closed loop) for requests/s, then bench/loadgen (open loop, a fixed arrival
# rate) for latency, with /metrics on the admin port read before and after for database
# statements and cache hits. One TSV row per configuration and scenario; bench/report.py turns
# the rows into the markdown tables and the SVG chart.
#
# Uses run.sh's BIN DB SCALE SCENARIOS THREADS CONNECTIONS WARMUP MEASURE USERS DEVICES and its
# scenario, free_port, start_server, stop_server, server_alive_or_die and field functions.
# bench/pg.sh runs it a second time, against PostgreSQL, with DB, SCENARIOS, ABL_BACKEND, ABL_TSV,
# ABL_LOG_PREFIX and ABL_NOTE set for that run (and restored after it).
#
#   BENCH_ABLATION=1            0 skips all of this
#   BENCH_ABLATION_SECONDS=8    seconds of the wrk run and of the loadgen run (at most BENCH_SECONDS)
#   BENCH_ABLATION_WARMUP=2     wrk warm-up seconds per scenario (at most BENCH_WARMUP)
#   BENCH_RATE=N                loadgen's requests/s for every scenario; by default
#   BENCH_RATE_FRACTION=0.5     times what wrk measured for the scenario with all off
#   BENCH_LOADGEN=PATH          default: bench/loadgen beside the binary

# The optimizations, one per line: how the tables name it switched off | the `hotpath serve`
# flags that switch it off | the backends it applies to (empty: all). Every flag must be a key
# of src/config/config.h; a key the binary does not know is skipped with a note, and so is a
# switch for another backend.
ABLATION_SWITCHES='cache off|--cache off|
compression off|--compress off|
db-pool 1|--db-pool 1|
batching off|--batch off|
pipelining off|--db-pipeline 1|postgres'
ABL_BACKEND=sqlite   # what DB is; bench/pg.sh sets postgres for its run
ABL_LOG_PREFIX=ablation-   # server logs: build/bench/<prefix><configuration>.log

ABLATION=${BENCH_ABLATION:-1}
ABL_SECONDS=${BENCH_ABLATION_SECONDS:-8}
ABL_WARMUP=${BENCH_ABLATION_WARMUP:-2}
ABL_RATE=${BENCH_RATE:-}
ABL_RATE_FRACTION=${BENCH_RATE_FRACTION:-0.5}
LOADGEN=${BENCH_LOADGEN:-$(dirname "$BIN")/bench/loadgen}
ABL_TSV=build/bench/ablation.tsv
ABL_NOTE=""          # why the comparison did not run, or which switches were skipped
ABL_CONFIGS=()       # "label|flags", in the order they run: all off first (it sets the rates)
declare -A ABL_RATE_OF

case "$ABL_SECONDS$ABL_WARMUP" in
  *[!0-9]*) echo "bench: BENCH_ABLATION_SECONDS/BENCH_ABLATION_WARMUP are whole seconds" >&2; exit 2;;
esac
[ "$ABL_SECONDS" -ge 1 ] || ABL_SECONDS=1
[ "$ABL_SECONDS" -le "$MEASURE" ] || ABL_SECONDS=$MEASURE
[ "$ABL_WARMUP" -le "$WARMUP" ] || ABL_WARMUP=$WARMUP

# Whether `hotpath serve` knows the flag that starts FLAGS (its --help lists every key). The
# help is read whole first: with pipefail, grep -q leaving early could fail the pipe.
flag_known() {
  local flag=${1%% *} help
  help=$("$BIN" --help 2>&1 || true)
  grep -qE -- "^ +$flag( |$)" <<<"$help"
}

# Fills ABL_CONFIGS from ABLATION_SWITCHES: all off, all on, then each switch alone.
ablation_plan() {
  local label flags backends all_off="" singles=()
  while IFS='|' read -r label flags backends; do
    [ -n "$label" ] || continue
    if [ -n "$backends" ] && [[ " $backends " != *" $ABL_BACKEND "* ]]; then
      ABL_NOTE="${ABL_NOTE:+$ABL_NOTE; }\"$label\" not measured: $backends only ($ABL_BACKEND here)"
    elif flag_known "$flags"; then
      all_off="${all_off:+$all_off }$flags"
      singles+=("$label|$flags")
    else
      ABL_NOTE="${ABL_NOTE:+$ABL_NOTE; }\"$label\" skipped: this hotpath has no ${flags%% *} option"
    fi
  done <<<"$ABLATION_SWITCHES"
  ABL_CONFIGS=("all off|$all_off" "all on|" "${singles[@]}")
}

# Whether the comparison can run; sets ABL_NOTE when it cannot.
ablation_ready() {
  if [ "$ABLATION" = 0 ]; then
    ABL_NOTE="before/after and ablation not run (BENCH_ABLATION=0)"
  elif [ ! -x "$LOADGEN" ]; then
    ABL_NOTE="before/after and ablation not run: $LOADGEN is not built (make $LOADGEN)"
  elif ! command -v python3 >/dev/null; then
    ABL_NOTE="before/after and ablation not run: python3 is not installed"
  else
    return 0
  fi
  echo "bench: $ABL_NOTE" >&2
  return 1
}

# Prints "requests statements hits" from the admin port's /metrics; hits (fresh and stale
# cache hits) is "-" when the cache is off.
scrape_metrics() {
  curl -s --max-time 5 "$ADMIN_BASE/metrics" | awk '
    /^hotpath_http_requests_total\{/ { requests += $2 }
    /^hotpath_db_statements_total / { statements = $2 }
    /^hotpath_cache_(hits|stale_hits)_total / { hits += $2; has_cache = 1 }
    END { printf "%.0f %.0f %s\n", requests, statements, (has_cache ? sprintf("%.0f", hits) : "-") }'
}

# The URL paths loadgen plays for scenario $1 (built once per table size).
paths_file() {
  local file=build/bench/paths/$1-u$USERS-d$DEVICES.paths
  if [ ! -s "$file" ]; then
    mkdir -p build/bench/paths
    python3 bench/paths.py "$1" --users "$USERS" --devices "$DEVICES" >"$file.tmp"
    mv "$file.tmp" "$file"
  fi
  echo "$file"
}

# Sets RATE, the open-loop rate for scenario $1: BENCH_RATE, or the fraction of all off's wrk
# figure ($3, when config $2 is all off, which runs first), so every configuration gets the
# same load. (Not called in a subshell: it remembers the rate.)
set_open_loop_rate() {
  if [ -n "$ABL_RATE" ]; then
    RATE=$ABL_RATE
    return
  fi
  if [ "$2" = "all off" ]; then
    ABL_RATE_OF[$1]=$(awk -v r="$3" -v f="$ABL_RATE_FRACTION" 'BEGIN { v = int(r * f); print (v < 1 ? 1 : v) }')
  fi
  RATE=${ABL_RATE_OF[$1]}
}

# ablation_scenario CONFIG FLAGS ID: the two runs of one scenario against the running server;
# appends its TSV row.
ablation_scenario() {
  local config=$1 flags=$2 id=$3 spec script args what before after wrk_line lg_line
  spec=$(scenario "$id")
  IFS='|' read -r script args _ what <<<"$spec"
  local wrk_cmd=(wrk -t"$THREADS" -c"$CONNECTIONS" --timeout 10s -s "bench/wrk/$script"
                 -H 'Accept-Encoding: gzip, br')
  local lg_headers=(-H 'Accept-Encoding: gzip, br')
  [ "$id" != S1u ] || lg_headers+=(-H 'Cache-Control: no-cache') # as s1u.lua: the miss path
  if [ "$ABL_WARMUP" -gt 0 ]; then
    # shellcheck disable=SC2086 # args is empty or one word
    "${wrk_cmd[@]}" -d"${ABL_WARMUP}s" "$BASE" -- $args >/dev/null 2>&1 || true
  fi
  before=$(scrape_metrics)
  # shellcheck disable=SC2086
  wrk_line=$("${wrk_cmd[@]}" -d"${ABL_SECONDS}s" "$BASE" -- $args 2>&1 | grep '^HPBENCH ' || true)
  server_alive_or_die "$id ($config, wrk)"
  [ -n "$wrk_line" ] || { echo "bench: wrk printed no summary for $id ($config)" >&2; exit 1; }
  set_open_loop_rate "$id" "$config" "$(field rps "$wrk_line")"
  lg_line=$("$LOADGEN" -q -r "$RATE" -d "$ABL_SECONDS" -c "$CONNECTIONS" -f "$(paths_file "$id")" \
    "${lg_headers[@]}" "$BASE" | grep '^HPLOADGEN ' || true)
  server_alive_or_die "$id ($config, loadgen)"
  [ -n "$lg_line" ] || { echo "bench: loadgen printed no summary for $id ($config)" >&2; exit 1; }
  after=$(scrape_metrics)
  echo "bench: $config / $id: wrk $(field rps "$wrk_line") requests/s; loadgen at $RATE/s:" \
    "p95 $(jfield p95_ms "$lg_line") ms, achieved $(jfield achieved_rps "$lg_line")/s"
  ablation_row "$config" "$flags" "$id" "$what" "$wrk_line" "$lg_line" "$before" "$after"
}

# A numeric value of loadgen's flat JSON summary.
jfield() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }

ABL_COLUMNS=(config flags scenario what wrk_rps wrk_requests wrk_non2xx wrk_socket_errors
  lg_target_rps lg_achieved_rps lg_scheduled lg_responses lg_non2xx lg_failed lg_mean_ms lg_p95_ms
  lg_p99_ms lg_bytes_per_response srv_requests srv_statements srv_cache_hits)

# ablation_row CONFIG FLAGS ID WHAT WRK_LINE LG_LINE BEFORE AFTER: one TSV row of raw counts.
ablation_row() {
  local b_req b_stmt b_hits a_req a_stmt a_hits hits=- k
  read -r b_req b_stmt b_hits <<<"$7"
  read -r a_req a_stmt a_hits <<<"$8"
  [ "$b_hits" = - ] || [ "$a_hits" = - ] || hits=$((a_hits - b_hits))
  local cells=("$1" "$2" "$3" "$4")
  for k in rps requests non2xx socket_errors; do cells+=("$(field "$k" "$5")"); done
  for k in target_rps achieved_rps scheduled responses non2xx failed mean_ms p95_ms p99_ms \
    bytes_per_response; do cells+=("$(jfield "$k" "$6")"); done
  cells+=("$((a_req - b_req))" "$((a_stmt - b_stmt))" "$hits")
  (IFS=$'\t'; echo "${cells[*]}") >>"$ABL_TSV"
}

# ablation_config LABEL FLAGS: a fresh server with FLAGS, every scenario.
ablation_config() {
  local label=$1 flags=$2 admin_port id
  PORT=$(free_port)
  admin_port=$(free_port)
  while [ "$admin_port" = "$PORT" ]; do admin_port=$(free_port); done
  BASE="http://127.0.0.1:$PORT"
  ADMIN_BASE="http://127.0.0.1:$admin_port"
  # shellcheck disable=SC2086 # BENCH_SERVER_ARGS and flags are lists of words on purpose
  start_server "build/bench/$ABL_LOG_PREFIX${label// /-}.log" "$BASE" \
    "$BIN" serve --db-uri "$DB" --server-host 127.0.0.1 --server-port "$PORT" \
    --admin-server-port "$admin_port" ${BENCH_SERVER_ARGS:-} $flags
  echo "bench: $label (${flags:-defaults}) on $BASE (pid $SERVER_PID)"
  for id in $SCENARIOS; do ablation_scenario "$label" "$flags" "$id"; done
  stop_server
}

# Runs every configuration (after ablation_ready said yes); the rows end up in ABL_TSV.
ablation_run() {
  ablation_plan
  local n_scen
  n_scen=$(wc -w <<<"$SCENARIOS")
  echo "bench: before/after and ablation: ${#ABL_CONFIGS[@]} configurations x $n_scen scenarios" \
    "x (${ABL_WARMUP} + 2 x ${ABL_SECONDS} s), about" \
    "$(( ${#ABL_CONFIGS[@]} * n_scen * (ABL_WARMUP + 2 * ABL_SECONDS + 1) / 60 + 1 )) min"
  (IFS=$'\t'; echo "${ABL_COLUMNS[*]}") >"$ABL_TSV"
  local config
  for config in "${ABL_CONFIGS[@]}"; do
    ablation_config "${config%%|*}" "${config#*|}"
  done
}

# ablation_report OUT DATE README EXTRA: prints the markdown section, writes the chart beside
# OUT (.svg for .md) and, when README is not empty, its generated block.
ablation_report() {
  local out=$1 date=$2 readme=$3 extra=$4 svg=${1%.md}.svg subtitle
  subtitle="$ABL_BACKEND, demo data at scale $SCALE; wrk and bench/loadgen share the $(nproc) cores"
  subtitle="$subtitle of this machine ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)) with the server"
  local report_args=(--svg "$svg" --title "hotpath $date: all off, each optimization off in turn, all on"
                     --subtitle "$subtitle" --seconds "$ABL_SECONDS" --warmup "$ABL_WARMUP"
                     --threads "$THREADS" --connections "$CONNECTIONS")
  [ -z "$readme" ] || report_args+=(--readme "$readme" --results "$out" --extra "$extra")
  python3 bench/report.py "$ABL_TSV" "${report_args[@]}" || return 1
  [ -z "$ABL_NOTE" ] || printf '\n- %s\n' "$ABL_NOTE"
}
