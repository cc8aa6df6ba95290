# shellcheck shell=bash
# bench/pg.sh: sourced by bench/run.sh, not run alone. The PostgreSQL part of `make bench`
# (bench/README.md, "PostgreSQL"): a throwaway cluster (scripts/pg-cluster.sh) with the demo
# data loaded by `hotpath demo --out URI`, then
#
#   1. every scenario against `hotpath serve --db-uri URI`, with wrk exactly as run.sh runs it
#      against SQLite, plus database queries per request two ways (hotpath's own
#      hotpath_db_statements_total, and pg_stat_statements' calls of hotpath's role) and the
#      pool's use (hotpath_db_pool_* sampled from /metrics during the measured run);
#   2. S1u beside pgbench running the same lookups raw (bench/pg/s1u.sql) at the same
#      concurrency against the same cluster: hotpath's requests/s / pgbench's transactions/s;
#   3. bench/ablation.sh's comparison (all off, all on, each switch off) for S1u, with the
#      switches that apply to PostgreSQL (pipelining among them).
#
# Uses run.sh's BIN ROOT SCALE SEED SCENARIOS THREADS CONNECTIONS WARMUP MEASURE USERS OUT DATE
# and its scenario, free_ports, start_server, stop_server, warm_up, measure_run, cpu_ticks,
# cpu_percent, field and queries_per_request functions, and ablation.sh's scrape_metrics,
# ablation_ready, ablation_run and ablation_report.
#
#   BENCH_PG=auto                 auto: run when the PostgreSQL server programs are installed
#                                 (else a note in the results); 1: they must be; 0: skip
#   BENCH_PG_SCENARIOS=...        the scenarios against PostgreSQL (default: BENCH_SCENARIOS)
#   BENCH_PG_ABLATION_SCENARIOS=S1u   the scenarios of the PostgreSQL ablation (empty: none;
#                                 BENCH_ABLATION=0 skips it too)
#   BENCH_PG_TARGET=0.7           the S1u / pgbench ratio the results call met or not (the
#                                 line also says whether it reaches 1.0, batching's target)
#   PG_BIN=DIR                    where the PostgreSQL programs are (as scripts/pg-cluster.sh)

PG_MODE=${BENCH_PG:-auto}
PG_SCENARIOS=${BENCH_PG_SCENARIOS:-$SCENARIOS}
PG_ABL_SCENARIOS=${BENCH_PG_ABLATION_SCENARIOS-S1u}
PG_TARGET=${BENCH_PG_TARGET:-0.7}
PG_TARGET_NEXT=1.0          # the batching issue's target for the same ratio
PG_SAMPLE_INTERVAL=0.5      # seconds between two reads of the pool gauges
PG_BENCH_ROLE=hpbench       # the role of the bench's own psql and of pgbench (not hotpath's)
PG_SCRIPT=bench/pg/s1u.sql  # pgbench's side of S1u

case "$PG_MODE" in
  auto|0|1) ;;
  *) echo "bench: BENCH_PG is auto, 0 or 1" >&2; exit 2;;
esac

PG_BIN_DIR=""       # the PostgreSQL programs (psql, pgbench)
PG_DIR=""           # the cluster's directory while it exists
PG_URI=""           # hotpath's connection (the cluster's superuser, "hotpath")
PG_ROLE=""          # that role's name, whose statements pg_stat_statements counts for hotpath
PG_BENCH_URI=""     # the same database as PG_BENCH_ROLE
PG_SAMPLER_PID=""
PG_SECTION=""       # the results' "PostgreSQL" section (or why it is missing)
PG_RATIO_LINE=""    # S1u / pgbench, for the README block
PG_TABLE="| scenario | what | requests/s | p50 ms | p99 ms | non-2xx | socket errors | CPU % hotpath / postgres / wrk | DB queries / request (hotpath / pg_stat_statements) | cache hit rate | pool: connections open (max / mean) | queries in flight (max / mean) | requests waiting (max / mean) | sample body bytes (identity / gzip,br) |
|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
PG_S1U_LINE="" PG_S1U_CPU="" PG_S1U_POOL=""   # hotpath's S1u figures, for the comparison
PG_POOL_MAX="?"

# Where the PostgreSQL programs are, as scripts/pg-cluster.sh looks for them (the server
# programs and pgbench come in one Debian package, postgresql-NN).
pg_find_bin() {
  local d
  # shellcheck disable=SC2012 # version-sorted directory names, no odd characters
  for d in ${PG_BIN:-} "$(pg_config --bindir 2>/dev/null || true)" \
    $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) \
    "$(dirname "$(readlink -f "$(command -v initdb || echo /nonexistent/initdb)")")"; do
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/psql" ]; then
      PG_BIN_DIR=$d
      return 0
    fi
  done
  return 1
}

# Whether the PostgreSQL part runs; when it does not, PG_SECTION says why.
pg_ready() {
  local why=""
  if [ "$PG_MODE" = 0 ]; then
    PG_SECTION="
## PostgreSQL

- not run (BENCH_PG=0)"
    return 1
  fi
  if ! pg_find_bin; then
    why="no PostgreSQL server programs found (scripts/install-deps.sh installs them)"
  elif [ -z "$PG_SCENARIOS" ]; then
    why="BENCH_PG_SCENARIOS is empty"
  fi
  if [ -n "$why" ]; then
    if [ "$PG_MODE" = 1 ]; then echo "bench: BENCH_PG=1, but $why" >&2; exit 1; fi
    echo "bench: PostgreSQL part not run: $why" >&2
    PG_SECTION="
## PostgreSQL

- not run: $why"
    return 1
  fi
}

# pg_sql URI SQL: one statement with psql, unaligned output.
pg_sql() {
  "$PG_BIN_DIR/psql" -X -q -At -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

# Stops the sampler and the cluster, keeps the cluster's log (build/bench/pg-postgres.log) and
# removes its directory. Safe to call twice (run.sh's EXIT trap calls it).
pg_cleanup() {
  pg_sampler_stop
  if [ -n "$PG_DIR" ]; then
    if scripts/pg-cluster.sh stop "$PG_DIR" >>build/bench/pg-cluster.log 2>&1; then
      cp "$PG_DIR/postgres.log" build/bench/pg-postgres.log 2>/dev/null || true
      case "$PG_DIR" in
        "$ROOT"/build/bench/pg-??????) rm -rf "$PG_DIR" ;;
      esac
    else
      echo "bench: could not stop the PostgreSQL cluster in $PG_DIR (scripts/pg-cluster.sh stop $PG_DIR)" >&2
    fi
    PG_DIR=""
  fi
}

# Starts the cluster and makes it ready: the bench's role and pg_stat_statements. Returns 1
# (auto) or ends the run (BENCH_PG=1) when the cluster does not start.
pg_start() {
  local out
  : >build/bench/pg-cluster.log
  PG_DIR=$(mktemp -d "$ROOT/build/bench/pg-XXXXXX")
  if ! out=$(PG_BIN=$PG_BIN_DIR scripts/pg-cluster.sh start "$PG_DIR" 2>>build/bench/pg-cluster.log); then
    local why
    why="scripts/pg-cluster.sh start failed: $(tail -n 1 build/bench/pg-cluster.log)"
    rmdir "$PG_DIR" 2>/dev/null || pg_cleanup
    PG_DIR=""
    if [ "$PG_MODE" = 1 ]; then echo "bench: $why" >&2; exit 1; fi
    echo "bench: PostgreSQL part not run: $why" >&2
    PG_SECTION="
## PostgreSQL

- not run: $why (build/bench/pg-cluster.log)"
    return 1
  fi
  PG_URI=$(tail -n 1 <<<"$out")
  PG_ROLE=$(sed -n 's|^postgres[a-z]*://\([^@:/]*\)@.*|\1|p' <<<"$PG_URI")
  PG_BENCH_URI=${PG_URI/\/\/$PG_ROLE@/\/\/$PG_BENCH_ROLE@}
  pg_sql "$PG_URI" "CREATE ROLE $PG_BENCH_ROLE LOGIN SUPERUSER" >/dev/null
  pg_sql "$PG_URI" "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
  PG_VERSION=$(pg_sql "$PG_BENCH_URI" "SHOW server_version" | cut -d' ' -f1)
  echo "bench: PostgreSQL $PG_VERSION cluster in $PG_DIR: $PG_URI"
}

# Loads the demo data at the run's scale, then VACUUMs it (hint bits and the visibility map
# set once, so the measured runs do not do it). Sets PG_LOAD_NOTE.
pg_load() {
  local t0 t1 t2 rows
  echo "bench: loading the demo data (scale $SCALE) into PostgreSQL"
  t0=$(date +%s.%N)
  if ! "$BIN" demo --scale "$SCALE" --seed "$SEED" --out "$PG_URI" >build/bench/pg-demo.log 2>&1; then
    echo "bench: hotpath demo --out $PG_URI failed:" >&2
    tail -n 20 build/bench/pg-demo.log >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  pg_sql "$PG_URI" "VACUUM" >/dev/null
  t2=$(date +%s.%N)
  rows=$(sed -n 's/.*: \([0-9][0-9]*\) rows in .*/\1/p' build/bench/pg-demo.log | tail -n 1)
  PG_LOAD_NOTE=$(awk -v a="$t0" -v b="$t1" -v c="$t2" -v r="${rows:-?}" \
    'BEGIN { printf "%s rows loaded by `hotpath demo --out postgres://...` in %.1f s, then VACUUM in %.1f s", r, b - a, c - b }')
  echo "bench: $PG_LOAD_NOTE"
}

# CPU ticks of the whole cluster: the postmaster, the backends it has reaped (its cutime and
# cstime) and the ones still running. Backends come and go (pgbench's connections), so the
# reaped ones' time is what makes the figure whole.
pg_cpu_ticks() {
  local pm total child
  pm=$(head -n 1 "$PG_DIR/data/postmaster.pid" 2>/dev/null || true)
  [ -n "$pm" ] || { echo 0; return; }
  total=$(( $(cpu_ticks "$pm") + $(cpu_ticks "$pm" children) ))
  for child in $(ps -o pid= --ppid "$pm" 2>/dev/null || true); do
    total=$(( total + $(cpu_ticks "$child") ))
  done
  echo "$total"
}

# The pool gauges every PG_SAMPLE_INTERVAL seconds, one line "open busy waiting" each, into
# FILE, until pg_sampler_stop.
pg_sampler_start() {
  local file=$1
  : >"$file"
  (
    trap 'exit 0' TERM
    while :; do
      sleep "$PG_SAMPLE_INTERVAL"
      curl -s --max-time 1 "$ADMIN_BASE/metrics" 2>/dev/null | awk '
        /^hotpath_db_pool_connections / { c = $2 }
        /^hotpath_db_pool_busy / { b = $2 }
        /^hotpath_db_pool_waiting / { w = $2 }
        END { if (c != "") print c, b, w }' >>"$file" || true
    done
  ) &
  PG_SAMPLER_PID=$!
}
pg_sampler_stop() {
  if [ -n "$PG_SAMPLER_PID" ]; then
    kill "$PG_SAMPLER_PID" 2>/dev/null || true
    wait "$PG_SAMPLER_PID" 2>/dev/null || true
    PG_SAMPLER_PID=""
  fi
}
# "max / mean" of the three gauges of a sampler file, as three |-separated cells.
pg_pool_cells() {
  awk '{ n++; for (i = 1; i <= 3; i++) { s[i] += $i; if ($i > m[i]) m[i] = $i } }
    END {
      if (n == 0) { print "- | - | -"; exit }
      printf "%d / %.1f | %d / %.1f | %d / %.1f\n", m[1], s[1] / n, m[2], s[2] / n, m[3], s[3] / n
    }' "$1"
}

# Statements hotpath's role ran, by pg_stat_statements (the bench's own psql and pgbench run as
# PG_BENCH_ROLE and are not counted).
pg_statement_calls() {
  pg_sql "$PG_BENCH_URI" "SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s
    JOIN pg_roles r ON r.oid = s.userid JOIN pg_database d ON d.oid = s.dbid
    WHERE r.rolname = '$PG_ROLE' AND d.datname = current_database()"
}
# The statements of the last measured run, busiest first, into FILE (to read, not parsed).
pg_statement_list() {
  "$PG_BIN_DIR/psql" -X -q -d "$PG_BENCH_URI" -c "SELECT s.calls, s.rows,
      round(s.mean_exec_time::numeric, 3) AS mean_ms,
      left(regexp_replace(s.query, '\s+', ' ', 'g'), 200) AS query
    FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
    WHERE r.rolname = '$PG_ROLE' ORDER BY s.calls DESC LIMIT 10" >"$1" 2>&1 || true
}

# hotpath on the cluster, with the admin port (for /metrics).
pg_serve() {
  free_ports
  # shellcheck disable=SC2086 # BENCH_SERVER_ARGS is a list of words on purpose
  start_server build/bench/pg-server.log "$BASE" \
    "$BIN" serve --db-uri "$PG_URI" --server-host 127.0.0.1 --server-port "$PORT" \
    --admin-server-port "$ADMIN_PORT" ${BENCH_SERVER_ARGS:-}
  PG_POOL_MAX=$(curl -s --max-time 5 "$ADMIN_BASE/metrics" |
    awk '/^hotpath_db_pool_max_connections / { print $2 }')
  echo "bench: serving PostgreSQL on $BASE (pid $SERVER_PID, admin $ADMIN_BASE," \
    "at most ${PG_POOL_MAX:-?} connections)"
}

# pg_scenario ID: one scenario against hotpath on PostgreSQL; appends its PG_TABLE row.
pg_scenario() {
  local id=$1 spec script args sample what status plain packed before after calls pg_before
  local pg_ticks hits qpr_pgss pool cpu_hotpath cpu_wrk r
  spec=$(scenario "$id") || { echo "bench: unknown scenario $id" >&2; exit 2; }
  IFS='|' read -r script args sample what <<<"$spec"
  status=$(curl -s -o /dev/null -w '%{http_code}' "$BASE$sample")
  plain=$(curl -s -o /dev/null -w '%{size_download}' "$BASE$sample")
  packed=$(curl -s -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip, br' "$BASE$sample")
  [ "$status" = 200 ] || echo "bench: PostgreSQL $id sample answered $status: $BASE$sample" >&2

  warm_up "PostgreSQL $id" "$script" "$args"
  pg_sql "$PG_BENCH_URI" "SELECT pg_stat_statements_reset()" >/dev/null
  before=$(scrape_metrics)
  pg_sampler_start "build/bench/pg-pool-$id.txt"
  pg_before=$(pg_cpu_ticks)
  measure_run "PostgreSQL $id" "$script" "$args"
  pg_ticks=$(( $(pg_cpu_ticks) - pg_before ))
  pg_sampler_stop
  after=$(scrape_metrics)
  calls=$(pg_statement_calls)
  pg_statement_list "build/bench/pg-statements-$id.txt"

  cpu_hotpath=${CPU%% / *}
  cpu_wrk=${CPU##* / }
  CPU="$cpu_hotpath / $(cpu_percent "$pg_ticks") / $cpu_wrk"
  local b_req a_req b_hits a_hits
  read -r b_req _ b_hits <<<"$before"
  read -r a_req _ a_hits <<<"$after"
  hits=$(awk -v h0="$b_hits" -v h1="$a_hits" -v r=$((a_req - b_req)) \
    'BEGIN { if (h0 == "-" || h1 == "-") print "off"; else if (r > 0) printf "%.1f%%", 100 * (h1 - h0) / r; else print "-" }')
  qpr_pgss=$(awk -v c="$calls" -v r=$((a_req - b_req)) 'BEGIN { if (r > 0) printf "%.2f", c / r; else print "-" }')
  pool=$(pg_pool_cells "build/bench/pg-pool-$id.txt")
  echo "bench: PostgreSQL $id: $(field rps "$LINE") requests/s, queries/request" \
    "$(queries_per_request "$before" "$after") (hotpath) / $qpr_pgss (pg_stat_statements)," \
    "pool open/busy/waiting (max / mean): $pool"
  printf -v r '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s / %s | %s | %s | %s / %s |' \
    "$id" "$what" "$(field rps "$LINE")" "$(field p50_ms "$LINE")" "$(field p99_ms "$LINE")" \
    "$(field non2xx "$LINE")" "$(field socket_errors "$LINE")" "$CPU" \
    "$(queries_per_request "$before" "$after")" "$qpr_pgss" "$hits" "$pool" "$plain" "$packed"
  PG_TABLE="$PG_TABLE
$r"
  if [ "$id" = S1u ]; then
    PG_S1U_LINE=$LINE PG_S1U_CPU=$CPU PG_S1U_POOL=${pool%% | *}
  fi
}

# pgbench's side of S1u: a warm-up, then the measured run with the same clients, threads and
# seconds as wrk's. Per-transaction latencies come from pgbench's log (-l) of a 10% sample.
# Sets PGB_TPS PGB_FAILED PGB_P50 PGB_P99 PGB_CPU.
pg_pgbench() {
  local logdir=build/bench/pgbench-log out before_pg before_client pg_ticks client_ticks lat
  local cmd=("$PG_BIN_DIR/pgbench" -n -f "$PG_SCRIPT" -D "users=$USERS" -c "$CONNECTIONS"
             -j "$THREADS" -M prepared)
  if [ "$WARMUP" -gt 0 ]; then
    echo "bench: pgbench warm-up ${WARMUP}s"
    "${cmd[@]}" -T "$WARMUP" "$PG_BENCH_URI" >/dev/null 2>&1 || true
  fi
  rm -rf "$logdir"
  mkdir -p "$logdir"
  echo "bench: pgbench measuring ${MEASURE}s"
  before_pg=$(pg_cpu_ticks)
  before_client=$(cpu_ticks $$ children)
  if ! out=$("${cmd[@]}" -T "$MEASURE" -l --sampling-rate=0.1 --log-prefix="$logdir/pgbench" \
    "$PG_BENCH_URI" 2>&1); then
    echo "bench: pgbench failed:" >&2
    echo "$out" >&2
    exit 1
  fi
  client_ticks=$(( $(cpu_ticks $$ children) - before_client ))
  sleep 0.2   # the postmaster reaps pgbench's backends (their CPU time joins its cutime)
  pg_ticks=$(( $(pg_cpu_ticks) - before_pg ))
  echo "$out" >build/bench/pgbench.out
  PGB_TPS=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' <<<"$out" | tail -n 1)
  PGB_FAILED=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
  [ -n "$PGB_TPS" ] || { echo "bench: pgbench printed no tps:" >&2; echo "$out" >&2; exit 1; }
  # Log lines: client, transaction, latency in microseconds, script, epoch seconds, microseconds.
  lat=$(cat "$logdir"/pgbench.* 2>/dev/null | awk '{ print $3 }' | sort -n | awk '
    { v[NR] = $1 }
    END {
      if (NR == 0) { print "- -"; exit }
      i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
      i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
      printf "%.3f %.3f\n", v[i50] / 1000, v[i99] / 1000
    }')
  read -r PGB_P50 PGB_P99 <<<"$lat"
  PGB_CPU="$(cpu_percent "$pg_ticks") / $(cpu_percent "$client_ticks")"
  rm -rf "$logdir"
  echo "bench: pgbench: $PGB_TPS transactions/s, p50 $PGB_P50 ms, p99 $PGB_P99 ms," \
    "CPU % postgres / pgbench $PGB_CPU"
}

# S1u beside pgbench: the table and the ratio line.
pg_comparison() {
  local h_rps c_hotpath c_postgres c_wrk
  h_rps=$(field rps "$PG_S1U_LINE")
  # hotpath's CPU cell is "hotpath / postgres / wrk".
  read -r c_hotpath _ c_postgres _ c_wrk <<<"$PG_S1U_CPU"
  PG_RATIO_LINE=$(awk -v h="$h_rps" -v p="$PGB_TPS" -v t="$PG_TARGET" -v t2="$PG_TARGET_NEXT" 'BEGIN {
    r = h / p
    printf "- PostgreSQL: S1u / pgbench = %.0f requests/s / %.0f transactions/s = **%.2f** (target >= %s: %s; with batching >= %s: %s)",
      h, p, r, t, (r >= t ? "met" : "NOT met"), t2, (r >= t2 ? "met" : "NOT met")
  }')
  PG_COMPARISON="### S1u beside raw primary-key lookups (pgbench)

The same lookups without HTTP: pgbench runs \`$PG_SCRIPT\` (\`\\set id random(1, $USERS)\`, then
\`SELECT id, username, email FROM users WHERE id = :id\`: the columns S1u selects, one statement
a transaction, as \`pgbench -S\` does) with \`-M prepared -c $CONNECTIONS -j $THREADS -T $MEASURE\`
after a ${WARMUP} s warm-up, against the same cluster, as a role of its own. hotpath's figure is
the S1u row above (wrk, $CONNECTIONS connections, \`Cache-Control: no-cache\`: every request goes
to the database, through the pool of at most ${PG_POOL_MAX:-?} connections). Each client runs on this
same $(nproc)-core machine and takes its share of the CPU from the servers. pgbench's latencies come
from its log of a 10% sample of the transactions.

| client | requests or transactions/s | p50 ms | p99 ms | errors | CPU % servers / client | connections to PostgreSQL |
|---|---:|---:|---:|---:|---:|---:|
| hotpath S1u (wrk, HTTP) | $(printf '%.0f' "$h_rps") | $(field p50_ms "$PG_S1U_LINE") | $(field p99_ms "$PG_S1U_LINE") | $(( $(field non2xx "$PG_S1U_LINE") + $(field socket_errors "$PG_S1U_LINE") )) | hotpath $c_hotpath + postgres $c_postgres / wrk $c_wrk | ${PG_S1U_POOL%% / *} open at most (of ${PG_POOL_MAX:-?}) |
| pgbench (libpq, prepared) | $(printf '%.0f' "$PGB_TPS") | $PGB_P50 | $PGB_P99 | ${PGB_FAILED:-0} | postgres ${PGB_CPU% / *} / pgbench ${PGB_CPU##* / } | $CONNECTIONS |

$PG_RATIO_LINE"
  echo "bench: ${PG_RATIO_LINE#- }"
}

# bench/ablation.sh's comparison against the cluster, for PG_ABL_SCENARIOS. Sets
# PG_ABL_SECTION. run.sh's SQLite figures are in other variables and files, which are put back.
pg_ablation() {
  local saved_db=$DB saved_scenarios=$SCENARIOS saved_backend=$ABL_BACKEND saved_tsv=$ABL_TSV
  local saved_prefix=$ABL_LOG_PREFIX saved_note=$ABL_NOTE section
  PG_ABL_SECTION=""
  DB=$PG_URI SCENARIOS=$PG_ABL_SCENARIOS ABL_BACKEND=postgres ABL_TSV=build/bench/ablation-pg.tsv
  ABL_LOG_PREFIX=pg-ablation- ABL_NOTE=""
  if [ -z "$PG_ABL_SCENARIOS" ]; then
    ABL_NOTE="PostgreSQL ablation not run (BENCH_PG_ABLATION_SCENARIOS is empty)"
  elif ablation_ready; then
    echo "bench: PostgreSQL before/after and ablation ($PG_ABL_SCENARIOS)"
    ablation_run
    mkdir -p "$(dirname "$OUT")"
    if section=$(ablation_report "${OUT%.md}-pg.md" "$DATE" "" ""); then
      PG_ABL_SECTION=$(sed 's/^## /### PostgreSQL: /' <<<"$section") # one level down
      ABL_NOTE=""
    else
      ABL_NOTE="the PostgreSQL before/after report failed (see the run's output); raw figures: $ABL_TSV"
    fi
  else
    ABL_NOTE="PostgreSQL ${ABL_NOTE#before/after and }"
  fi
  [ -z "$ABL_NOTE" ] || PG_ABL_SECTION="- $ABL_NOTE"
  DB=$saved_db SCENARIOS=$saved_scenarios ABL_BACKEND=$saved_backend ABL_TSV=$saved_tsv
  ABL_LOG_PREFIX=$saved_prefix ABL_NOTE=$saved_note
}

# The whole PostgreSQL part; fills PG_SECTION (and PG_RATIO_LINE).
pg_run() {
  local id started
  started=$(date +%s)
  pg_start || return 0
  pg_load
  pg_serve
  for id in $PG_SCENARIOS; do pg_scenario "$id"; done
  stop_server

  PG_COMPARISON=""
  if [ -z "$PG_S1U_LINE" ]; then
    PG_COMPARISON="- pgbench comparison not run (S1u is not among the PostgreSQL scenarios)"
  elif [ ! -x "$PG_BIN_DIR/pgbench" ]; then
    PG_COMPARISON="- pgbench comparison not run: $PG_BIN_DIR/pgbench is not installed"
  else
    pg_pgbench
    pg_comparison
  fi
  pg_ablation
  pg_cleanup

  PG_SECTION="
## PostgreSQL

- PostgreSQL $PG_VERSION: a throwaway cluster from scripts/pg-cluster.sh on 127.0.0.1 (fsync and synchronous_commit off, pg_stat_statements, the other settings PostgreSQL's defaults), shopiot data at scale $SCALE, seed $SEED: $PG_LOAD_NOTE
- hotpath: \`serve --db-uri postgres://...\` with default settings${BENCH_SERVER_ARGS:+ plus \`$BENCH_SERVER_ARGS\`} (at most ${PG_POOL_MAX:-?} connections); wrk exactly as for SQLite above ($THREADS threads, $CONNECTIONS connections, ${WARMUP} s warm-up, ${MEASURE} s measured, no probe runs)
- the load generators (wrk, pgbench, bench/loadgen) run on this same machine and share its $(nproc) cores with hotpath and PostgreSQL; CPU %: of one core over the measured run, PostgreSQL's being every process of the cluster
- DB queries / request: change of \`hotpath_db_statements_total\`, and the calls pg_stat_statements counted for hotpath's role (reset after the warm-up; the bench's own queries and pgbench use another role), each over the change of \`hotpath_http_requests_total\`; cache hit rate: change of \`hotpath_cache_hits_total\` + \`hotpath_cache_stale_hits_total\` over the same requests
- pool: \`hotpath_db_pool_connections\`, \`hotpath_db_pool_busy\` and \`hotpath_db_pool_waiting\` read from \`/metrics\` every ${PG_SAMPLE_INTERVAL} s of the measured run: the most and the mean
- this part took $(( ($(date +%s) - started) / 60 )) min $(( ($(date +%s) - started) % 60 )) s

$PG_TABLE

$PG_COMPARISON

$PG_ABL_SECTION"
}
