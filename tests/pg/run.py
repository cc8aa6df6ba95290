#!/usr/bin/env python3
"""
The PostgreSQL backend against real servers: a throwaway cluster and a streaming replica made
by scripts/pg-cluster.sh in temporary directories, stopped by PID at the end.

Usage: run.py BIN

  pool          200 concurrent reads through db-pool 2: all answered, at most 2 connections
                per server (pg_stat_activity, application_name 'hotpath')
  lend          db-pool 1 with two event loops: every request is answered (the loop without a
                connection lends its jobs to the one with it), through one connection
  acquire       db-pool 1, db-pipeline 1, db-pool-acquire-ms 200: a second request while a
                slow one holds the only connection gets 504 PGRST003 with Retry-After
  statement-timeout  db-statement-timeout-ms 100: a 0.6 s statement is cancelled (57014) and
                the connection goes on serving
  outage        the primary stops: requests fail fast (503 + Retry-After, well under a second)
                and the admin /ready answers 503;
                it starts again: the pool recovers by itself; three restarts leave the server's
                open file descriptors (beside the pool's own) and memory where they were
  external      with `hotpath setup-triggers`, a write made with psql is seen by the next GET
                within 100 ms (the GET before it was a cache hit)
  reload        NOTIFY hotpath, 'reload schema' makes a table created with psql servable
  replicas      reads go to the replica (pg_stat_statements there counts them), a client's read right
                after its own write sees it (50 rounds), and with the replica stopped reads
                still succeed (on the primary)
Ends with the line `N passed, N failed`.
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "spec"))
from run import http_request  # noqa: E402
from support import (ClusterEnv, check, cluster, header, psql, rss_kib,  # noqa: E402
                     run_tests, wait_for)


SCHEMA = """
CREATE EXTENSION pg_stat_statements;
CREATE TABLE items (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL DEFAULT 0);
INSERT INTO items SELECT i, 'item ' || i, i FROM generate_series(1, 100) i;
CREATE TABLE notes (id integer PRIMARY KEY, body text);
INSERT INTO notes VALUES (1, 'one'), (2, 'two');
CREATE VIEW slow AS SELECT 1 AS id, pg_sleep(0.6) IS NULL AS slept;
"""


def get(server, target, headers=(), timeout=10):
    return http_request(server.port, "GET", target, headers=headers, timeout=timeout)


def pool_connections(uri):
    return int(psql(uri, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'hotpath'"))


def open_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def fds_beside_pool(env, pid):
    """The server's open descriptors less its pool's (two per connection: libpq's socket and
    the loop's duplicate), once connecting has settled; the pool may rightly hold more or fewer
    connections after a restart."""
    time.sleep(0.3)
    return open_fds(pid) - 2 * pool_connections(env.uri)


def make_env(binary, tmp):
    return ClusterEnv(binary, tmp, SCHEMA)


def test_pool(env):
    s = env.server("--db-pool", "2", "--cache", "off")
    targets = ["/items?id=eq.%d" % (i % 100 + 1) for i in range(200)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as ex:
        results = list(ex.map(lambda t: get(s, t), targets))
    for t, (status, _, body) in zip(targets, results):
        check(status == 200, "%s answered %d: %r" % (t, status, body[:200]))
        row = json.loads(body)[0]
        check(row["id"] == int(t.split(".")[-1]), "%s answered row %r" % (t, row))
    n = pool_connections(env.uri)
    check(1 <= n <= 2, "%d pool connections open with db-pool 2" % n)
    stop(s)


def test_lend(env):
    """db-pool 1 with two loops: the loop without a connection lends its jobs to the other."""
    s = env.server("--db-pool", "1", "--server-threads", "2", "--cache", "off", "--batch", "off")
    targets = ["/items?id=eq.%d" % (i % 100 + 1) for i in range(200)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as ex:
        results = list(ex.map(lambda t: (time.monotonic(), get(s, t), time.monotonic()), targets))
    for t, (start, (status, _, body), end) in zip(targets, results):
        check(status == 200, "%s answered %d: %r" % (t, status, body[:200]))
        check(end - start < 2, "%s took %.1fs" % (t, end - start))
    n = pool_connections(env.uri)
    check(n == 1, "%d pool connections open with db-pool 1" % n)
    stop(s)


def test_acquire_timeout(env):
    s = env.server("--db-pool", "1", "--db-pipeline", "1", "--db-pool-acquire-ms", "200",
                   "--server-threads", "1", "--cache", "off")
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as ex:
        slow = ex.submit(get, s, "/slow?id=eq.1")
        time.sleep(0.15)
        second = ex.submit(get, s, "/items?id=eq.2")
        status2, headers2, body2 = second.result()
        status1, _, body1 = slow.result()
    check(status1 == 200, "the slow read answered %d: %r" % (status1, body1))
    check(status2 == 504, "the waiting read answered %d, not 504: %r" % (status2, body2))
    check(json.loads(body2)["code"] == "PGRST003", "504 body: %r" % body2)
    check(header(headers2, "retry-after") is not None, "504 without Retry-After")
    status, _, _ = get(s, "/items?id=eq.2")
    check(status == 200, "after the timeout the pool serves again: %d" % status)
    stop(s)


def stop(server):
    """SIGTERM; the server must exit 0 (a sanitizer report makes it exit non-zero)."""
    reason = server.stop()
    check(reason is None, "%s\n%s" % (reason, "".join(server.log_tail())))


def test_statement_timeout(env):
    s = env.server("--db-statement-timeout-ms", "100", "--cache", "off")
    t0 = time.monotonic()
    status, _, body = get(s, "/slow?id=eq.1")
    took = time.monotonic() - t0
    check(status == 500 and json.loads(body)["code"] == "57014",
          "a statement past db-statement-timeout-ms answered %d %r" % (status, body))
    check(took < 0.5, "the cancelled statement took %.2fs" % took)
    status, _, _ = get(s, "/items?id=eq.1")
    check(status == 200, "the connection serves after a cancelled statement: %d" % status)
    stop(s)


def test_outage(env):
    s = env.server("--db-pool", "4", "--cache", "off")
    pid = s.proc.pid
    for _ in range(20):
        get(s, "/items?id=eq.1")
    fds_before, rss_before = fds_beside_pool(env, pid), rss_kib(pid)
    for round_no in range(3):
        cluster("stop", env.primary_dir)
        t0 = time.monotonic()
        status, headers, body = get(s, "/items?id=eq.1")
        took = time.monotonic() - t0
        check(status == 503, "round %d: with the database down the read answered %d: %r"
              % (round_no, status, body[:200]))
        check(header(headers, "retry-after") is not None, "503 without Retry-After")
        check(took < 1.0, "round %d: the 503 took %.2fs (should fail fast)" % (round_no, took))
        # Requests keep failing fast while it is down, and /ready says so.
        for _ in range(20):
            status, _, _ = get(s, "/items?id=eq.2")
            check(status == 503, "while down: %d" % status)
        status, _, _ = http_request(s.admin_port, "GET", "/ready")
        check(status == 503, "admin /ready answered %d with the database down" % status)
        env.uri = cluster("restart", env.primary_dir)
        wait_for(lambda: get(s, "/items?id=eq.1")[0] == 200, 10, "the pool did not recover")
        status, _, _ = http_request(s.admin_port, "GET", "/ready")
        check(status == 200, "admin /ready answered %d after recovery" % status)
        for _ in range(20):
            status, _, _ = get(s, "/items?id=eq.3")
            check(status == 200, "after recovery: %d" % status)
    fds_after, rss_after = fds_beside_pool(env, pid), rss_kib(pid)
    check(fds_after <= fds_before, "open fds %d before three restarts, %d after"
          % (fds_before, fds_after))
    check(rss_after < rss_before + 8192, "RSS %d KiB before, %d KiB after" % (rss_before, rss_after))
    stop(s)


def test_external_writes(env):
    out = subprocess.run([env.binary, "setup-triggers", "--db-uri", env.uri], capture_output=True,
                         text=True, timeout=60)
    check(out.returncode == 0, "setup-triggers: %s" % out.stderr)
    s = env.server()
    for i in range(5):
        get(s, "/notes?id=eq.1")
        status, headers, _ = get(s, "/notes?id=eq.1")
        check("hit" in (header(headers, "cache-status") or ""), "the second read was not a hit")
        psql(env.uri, "UPDATE notes SET body = 'v%d' WHERE id = 1" % i)
        t0 = time.monotonic()
        status, _, body = get(s, "/notes?id=eq.1&select=body")
        if json.loads(body) != [{"body": "v%d" % i}]:
            # Allowed only within the bound: retry until 100 ms have passed.
            while time.monotonic() - t0 < 0.1:
                status, _, body = get(s, "/notes?id=eq.1&select=body")
                if json.loads(body) == [{"body": "v%d" % i}]:
                    break
            check(json.loads(body) == [{"body": "v%d" % i}],
                  "an external write was not visible within 100 ms: %r" % body)
    stop(s)


def test_reload(env):
    s = env.server()
    status, _, _ = get(s, "/fresh")
    check(status == 404, "an unknown table answered %d" % status)
    psql(env.uri, "CREATE TABLE fresh (id int PRIMARY KEY); INSERT INTO fresh VALUES (7); "
                  "NOTIFY hotpath, 'reload schema'")
    wait_for(lambda: get(s, "/fresh")[0] == 200, 5, "the new table was not served after NOTIFY")
    status, _, body = get(s, "/fresh")
    check(json.loads(body) == [{"id": 7}], "GET /fresh: %r" % body)
    stop(s)


def replica_item_reads(env):
    """Statements that read items on the replica (pg_stat_statements counts at once; the
    cumulative statistics of pg_stat_database are flushed only every second)."""
    return int(psql(env.replica_uri, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                                     "WHERE query LIKE '%FROM \"items\"%'"))


def test_replicas(env):
    env.replica_uri = cluster("start-replica", env.replica_dir, env.primary_dir)
    wait_for(lambda: psql(env.replica_uri, "SELECT count(*) FROM items") == "100", 10,
             "the replica did not catch up")
    s = env.server("--db-replicas", env.replica_uri, "--cache", "off")
    before = replica_item_reads(env)
    for i in range(50):
        status, _, _ = get(s, "/items?id=eq.%d" % (i + 1), headers=[("Authorization", "Bearer reader")])
        check(status == 200, "read answered %d" % status)
    after = replica_item_reads(env)
    check(after - before >= 50, "the replica ran %d reads of items for 50 requests" % (after - before))
    # Read-your-writes: each write is read back at once by the same client.
    for i in range(50):
        status, _, body = http_request(s.port, "PATCH", "/items?id=eq.5", body=json.dumps({"qty": 1000 + i}).encode(),
                                       headers=[("Authorization", "Bearer writer")])
        check(status == 204, "PATCH answered %d: %r" % (status, body))
        status, _, body = get(s, "/items?id=eq.5&select=qty", headers=[("Authorization", "Bearer writer")])
        check(json.loads(body) == [{"qty": 1000 + i}], "read after write saw %r" % body)
    cluster("stop", env.replica_dir)
    for i in range(20):
        status, _, body = get(s, "/items?id=eq.%d" % (i + 1), headers=[("Authorization", "Bearer reader")])
        check(status == 200, "with the replica down a read answered %d: %r" % (status, body[:200]))
    stop(s)


TESTS = [("pool", test_pool), ("lend", test_lend), ("acquire", test_acquire_timeout),
         ("statement-timeout", test_statement_timeout), ("outage", test_outage),
         ("external", test_external_writes), ("reload", test_reload), ("replicas", test_replicas)]


def main(argv):
    return run_tests(argv, "hotpath-pg-", make_env, TESTS)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
