#!/usr/bin/env bash
# Throwaway PostgreSQL clusters for tests and benchmarks, each in a directory of its own.
#   scripts/pg-cluster.sh start DIR                   new cluster in DIR; prints its URI
#   scripts/pg-cluster.sh start-replica DIR PRIMARY   streaming replica of the cluster in PRIMARY
#   scripts/pg-cluster.sh stop DIR                    stops it (nothing to do is not an error)
#   scripts/pg-cluster.sh restart DIR                 starts a stopped cluster again, on the
#                                                     same port (its URI stays valid)
#
# start creates DIR (which must not exist, or be empty), runs initdb in DIR/data with the
# superuser role "hotpath", trust authentication for local sockets and 127.0.0.1 only, C
# collation (text sorts bytewise, as SQLite's BINARY does), UTC, fsync off, WAL ready for
# replicas, and pg_stat_statements preloaded (CREATE EXTENSION pg_stat_statements to read it).
# The server listens on 127.0.0.1 on a free port, with its Unix socket in DIR and its log in
# DIR/postgres.log; start waits until it accepts connections, creates the database "hotpath"
# and prints one line, postgres://hotpath@127.0.0.1:PORT/hotpath, which is also kept in DIR/uri.
# start-replica takes a base backup of the running cluster in PRIMARY (pg_basebackup -R) and
# starts it as a hot standby on another free port; it prints the replica's URI the same way.
# stop is `pg_ctl stop -m fast`, then SIGQUIT and SIGKILL to the postmaster (its PID from
# DIR/data/postmaster.pid) if it lingers; DIR is left in place for the caller to remove.
#
# PostgreSQL refuses to run as root. Run as root (as CI does), the server runs as the user
# HP_PG_USER (default: postgres, which Debian's postgresql package creates; else nobody), and
# DIR is given to that user, so DIR's parent directories must let it through (any directory
# made by `mktemp -d` is fine: DIR itself is what must be private). PG_BIN overrides where the
# server programs are found (default: pg_config --bindir, then /usr/lib/postgresql/*/bin).
set -euo pipefail

ROLE=hotpath
DB=hotpath
# Connection settings from the caller's environment must not redirect our own commands.
unset PGHOST PGHOSTADDR PGPORT PGUSER PGDATABASE PGDATA PGSERVICE PGOPTIONS PGPASSFILE

die() { echo "pg-cluster: $*" >&2; exit 1; }
usage() {
  echo "usage: $0 start DIR | start-replica DIR PRIMARY_DIR | stop DIR | restart DIR" >&2
  exit 2
}

# --- environment -------------------------------------------------------------------------

find_bin() {
  local d
  if [ -n "${PG_BIN:-}" ]; then
    [ -x "$PG_BIN/initdb" ] || die "PG_BIN=$PG_BIN has no initdb"
    return
  fi
  if command -v pg_config >/dev/null; then
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then PG_BIN=$d; return; fi
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ]; then PG_BIN=$d; return; fi
  done
  d=$(command -v initdb || true)
  [ -n "$d" ] || die "no PostgreSQL server programs found (scripts/install-deps.sh installs them)"
  PG_BIN=$(dirname "$(readlink -f "$d")")
}

# The user the server runs as: ourselves, or a non-root user when we are root.
find_user() {
  if [ "$(id -u)" -ne 0 ]; then RUN_USER=$(id -un); return; fi
  RUN_USER=${HP_PG_USER:-}
  if [ -z "$RUN_USER" ]; then
    if id postgres >/dev/null 2>&1; then RUN_USER=postgres; else RUN_USER=nobody; fi
  fi
  id "$RUN_USER" >/dev/null 2>&1 || die "no user $RUN_USER to run PostgreSQL as"
  command -v runuser >/dev/null || die "runuser (util-linux) is needed to run PostgreSQL as $RUN_USER"
}

# Runs a command as RUN_USER, from / (the caller's directory may be closed to that user).
as_user() {
  if [ "$(id -u)" -ne 0 ]; then
    (cd / && "$@")
  else
    (cd / && runuser -u "$RUN_USER" -- "$@")
  fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Absolute path of DIR, which need not exist yet.
absolute() {
  case "$1" in
    /*) printf '%s\n' "${1%/}" ;;
    *) printf '%s/%s\n' "$(pwd)" "${1%/}" ;;
  esac
}

# Makes DIR (absent or empty) and hands it to RUN_USER, or fails with the reason.
prepare_dir() {
  local dir=$1 made=
  if [ -e "$dir" ]; then
    [ -d "$dir" ] || die "$dir exists and is not a directory"
    [ -z "$(ls -A "$dir")" ] || die "$dir is not empty (stop the cluster in it and remove it first)"
  else
    mkdir -p "$dir" || die "cannot create $dir"
    made=1
  fi
  if [ "$(id -u)" -eq 0 ]; then
    chown "$RUN_USER": "$dir"
    chmod 700 "$dir"
    if ! as_user test -w "$dir" -a -x "$dir"; then
      [ -z "${made:-}" ] || rmdir "$dir"
      die "user $RUN_USER cannot reach $dir: a parent directory is closed to it" \
        "(give it a directory of its own, e.g. start \"\$(mktemp -d)\")"
    fi
  fi
  # The socket path (DIR/.s.PGSQL.NNNNN) must fit in sockaddr_un's 108 bytes.
  [ ${#dir} -le 90 ] || die "$dir is too long for a Unix socket path (90 bytes at most)"
}

# --- the server --------------------------------------------------------------------------

# Settings that differ between a primary and its replicas (pg_basebackup copies the rest).
write_local_conf() {
  local dir=$1 port=$2
  as_user tee "$dir/data/hotpath.conf" >/dev/null <<EOF
# Written by scripts/pg-cluster.sh for this cluster alone.
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
EOF
}

postmaster_pid() {
  local pidfile=$1/data/postmaster.pid
  [ -f "$pidfile" ] && head -1 "$pidfile" 2>/dev/null || true
}

# Starts the server in DIR on a fresh free port, trying again when another process took the
# port first. Prints the port.
start_server() {
  local dir=$1 port attempt
  for attempt in 1 2 3; do
    port=$(free_port)
    write_local_conf "$dir" "$port"
    if as_user "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -s start >/dev/null; then
      wait_ready "$port" || die "the server in $dir started but does not accept connections (see $dir/postgres.log)"
      echo "$port"
      return 0
    fi
    grep -q "could not bind\|Address already in use" "$dir/postgres.log" 2>/dev/null || break
    echo "pg-cluster: port $port was taken, trying another (attempt $attempt)" >&2
  done
  echo "pg-cluster: the server in $dir did not start; the end of $dir/postgres.log:" >&2
  tail -n 15 "$dir/postgres.log" >&2 2>/dev/null || true
  exit 1
}

wait_ready() {
  local port=$1 i
  for i in $(seq 1 100); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -d postgres -U "$ROLE" && return 0
    sleep 0.1
  done
  return 1
}

psql_admin() {
  local port=$1; shift
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$ROLE" -d postgres "$@"
}

print_uri() {
  local dir=$1 port=$2
  local uri="postgres://$ROLE@127.0.0.1:$port/$DB"
  echo "$uri" | as_user tee "$dir/uri" >/dev/null
  echo "$uri"
}

cmd_start() {
  local dir
  dir=$(absolute "$1")
  prepare_dir "$dir"
  as_user "$PG_BIN/initdb" -D "$dir/data" -U "$ROLE" -A trust -E UTF8 --locale=C --no-sync \
    --no-instructions >"$dir/initdb.log" 2>&1 ||
    { tail -n 15 "$dir/initdb.log" >&2; die "initdb failed in $dir/data"; }
  # Trust on the private socket and on 127.0.0.1 only (initdb's default adds ::1).
  as_user tee "$dir/data/pg_hba.conf" >/dev/null <<'EOF'
# TYPE  DATABASE     USER  ADDRESS       METHOD
local   all          all                 trust
host    all          all   127.0.0.1/32  trust
local   replication  all                 trust
host    replication  all   127.0.0.1/32  trust
EOF
  as_user tee -a "$dir/data/postgresql.conf" >/dev/null <<'EOF'

# scripts/pg-cluster.sh: a throwaway cluster (fast, not crash-safe), ready for replicas.
fsync = off
synchronous_commit = off
shared_preload_libraries = 'pg_stat_statements'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
timezone = 'UTC'
log_timezone = 'UTC'
lc_messages = 'C'
include 'hotpath.conf'
EOF
  local port
  port=$(start_server "$dir")
  psql_admin "$port" -c "CREATE DATABASE $DB" >&2 || die "cannot create the database $DB"
  print_uri "$dir" "$port"
}

cmd_start_replica() {
  local dir primary pport
  dir=$(absolute "$1")
  primary=$(absolute "$2")
  [ -f "$primary/data/postmaster.pid" ] || die "no running cluster in $primary"
  pport=$(sed -n 4p "$primary/data/postmaster.pid")
  [ -n "$pport" ] || die "cannot read the port of the cluster in $primary"
  prepare_dir "$dir"
  as_user "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$pport" -U "$ROLE" -D "$dir/data" -R \
    -X stream -c fast --no-sync >"$dir/basebackup.log" 2>&1 ||
    { tail -n 15 "$dir/basebackup.log" >&2; die "pg_basebackup from $primary failed"; }
  local port
  port=$(start_server "$dir")
  print_uri "$dir" "$port"
}

# Whether PID is a live PostgreSQL process. A zombie is not: a postmaster started by pg_ctl is
# the child of whatever reaps orphans, which in a container may never do so.
process_alive() {
  local pid=$1 state
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  grep -q "postgres" "/proc/$pid/comm" 2>/dev/null || return 1
  state=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$pid/stat" 2>/dev/null)
  [ -n "$state" ] && [ "$state" != Z ]
}

cmd_stop() {
  local dir pid i
  dir=$(absolute "$1")
  if [ ! -f "$dir/data/postmaster.pid" ]; then
    echo "pg-cluster: no cluster running in $dir" >&2
    return 0
  fi
  pid=$(postmaster_pid "$dir")
  as_user "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 -s stop >/dev/null 2>&1 || true
  # A postmaster that lingers (pg_ctl timed out, or the pid file is stale): the PID file
  # names it; only a process that is PostgreSQL's is signalled.
  for sig in QUIT KILL; do
    process_alive "$pid" || break
    echo "pg-cluster: postmaster $pid is still running; sending SIG$sig" >&2
    kill -s "$sig" "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do
      process_alive "$pid" || break
      sleep 0.1
    done
  done
  process_alive "$pid" && die "postmaster $pid in $dir did not stop"
  rm -f "$dir/data/postmaster.pid"
  return 0
}

cmd_restart() {
  local dir port
  dir=$(absolute "$1")
  [ -f "$dir/data/hotpath.conf" ] || die "no cluster in $dir"
  [ ! -f "$dir/data/postmaster.pid" ] || die "the cluster in $dir is running"
  port=$(sed -n 's/^port = //p' "$dir/data/hotpath.conf")
  as_user "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 -s start >/dev/null ||
    die "the server in $dir did not start again (see $dir/postgres.log)"
  wait_ready "$port" || die "the server in $dir started but does not accept connections"
  cat "$dir/uri"
}

# --- main --------------------------------------------------------------------------------

[ $# -ge 1 ] || usage
case "$1" in
  start) [ $# -eq 2 ] || usage; find_bin; find_user; cmd_start "$2" ;;
  start-replica) [ $# -eq 3 ] || usage; find_bin; find_user; cmd_start_replica "$2" "$3" ;;
  stop) [ $# -eq 2 ] || usage; find_bin; find_user; cmd_stop "$2" ;;
  restart) [ $# -eq 2 ] || usage; find_bin; find_user; cmd_restart "$2" ;;
  -h|--help) usage ;;
  *) usage ;;
esac
