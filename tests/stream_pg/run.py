#!/usr/bin/env python3
"""
Streamed responses on PostgreSQL, end to end through HTTP: a throwaway cluster (and, for the
last check, a streaming replica) made by scripts/pg-cluster.sh in a temporary directory,
stopped by PID at the end. Two servers read the same data: one with `stream-after-bytes 0`
(never streams: the body is PostgreSQL's one json_agg row) and one that streams past a few KiB
(src/db/pg/stream.c: a cursor, fetched piece by piece as the client takes them).

Usage: run.py BIN

  identity      JSON, CSV, embeds, Prefer: count=exact, offsets, empty results: the same
                status, Content-Range and body bytes from both servers
  slow-client   a client that stops reading a 20 MB response: the stream waits (its connection
                sits idle in its transaction, pg_stat_activity), the server's memory grows by
                far less than the body meanwhile (not checked under AddressSanitizer, whose
                quarantine keeps freed memory), other requests are answered at once; then the
                client reads on and gets the same bytes as unstreamed
  disconnect    clients that leave mid-stream, 10 times: each stream's transaction ends (no
                connection left idle in a transaction), the pool stays within db-pool and
                answers afterwards
  replica       streamed reads routed to a replica give the same bytes, and run there

Ends with the line `N passed, N failed` (tests/pg/support.py's run_tests).
"""
import concurrent.futures
import http.client
import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "spec"))
sys.path.append(os.path.join(HERE, "..", "pg"))  # support.py, after the spec runner
from run import http_request  # noqa: E402
from support import (ClusterEnv, Fail, check, cluster, header, psql, rss_kib,  # noqa: E402
                     run_tests, wait_for)

STREAM_AFTER = 4096
BIG_ROWS = 100000  # about 20 MB of JSON
STREAMING_APP = "hotpath_streaming"  # application_name of the streaming servers' connections

SCHEMA = """
CREATE EXTENSION pg_stat_statements;
CREATE TABLE owners (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO owners SELECT g, 'owner ' || g FROM generate_series(1, 100) g;
CREATE TABLE items (id int PRIMARY KEY, owner_id int REFERENCES owners(id), name text,
  price numeric(10,2), at timestamptz, tags jsonb, flag boolean, note text, ratio float8);
INSERT INTO items SELECT g, 1 + g % 100, 'item "' || g || '", with comma', g * 1.25,
  timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute 1.5 seconds',
  jsonb_build_object('g', g, 'l', jsonb_build_array(g, 'x')), g % 3 = 0,
  CASE WHEN g % 7 = 0 THEN NULL ELSE E'line\\nbreak ' || g END, g / 3.0
  FROM generate_series(1, 5000) g;
CREATE TABLE parts (id int PRIMARY KEY, item_id int REFERENCES items(id), label text);
INSERT INTO parts SELECT g, 1 + g % 5000, 'p' || g FROM generate_series(1, 8000) g;
CREATE TABLE nothing (id int PRIMARY KEY, v text);
CREATE TABLE big (id int PRIMARY KEY, pad text NOT NULL);
INSERT INTO big SELECT g, repeat(md5(g::text), 5) FROM generate_series(1, BIG_ROWS) g;
""".replace("BIG_ROWS", str(BIG_ROWS))

TARGETS = [
    ("/items?order=id", []),
    ("/items?order=id.desc&select=id,name,note", [("Accept", "text/csv")]),
    ("/items?select=id,name,owners(name),parts(id,label)&order=id&parts.order=id.desc", []),
    ("/owners?select=*,items(id,price,at)&order=id", []),
    ("/items?id=gt.100&order=id&offset=10", [("Prefer", "count=exact")]),
    ("/items?order=id&limit=2000", [("Prefer", "count=exact")]),
    ("/items?order=id", [("Range", "10-3000")]),
    ("/nothing", []),
    ("/nothing", [("Accept", "text/csv")]),
    ("/items?id=lt.4&order=id", []),
]


def idle_in_transaction(uri):
    """Pool connections holding a stream's cursor while nothing is fetched."""
    return int(psql(uri, "SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                         "'" + STREAMING_APP + "' AND state = 'idle in transaction'"))


def paused_stream(uri):
    """(pid, state_change) of the pool connection that has sat idle in a transaction for half a
    second (a stream waiting for its client), or None."""
    out = psql(uri, "SELECT pid, state_change FROM pg_stat_activity WHERE application_name = "
                    "'" + STREAMING_APP + "' AND state = 'idle in transaction' AND "
                    "state_change < now() - interval '0.5 s'")
    return out or None


def pool_connections(uri):
    return int(psql(uri, "SELECT count(*) FROM pg_stat_activity WHERE application_name = '"
                         + STREAMING_APP + "'"))


class SmallWindowConnection(http.client.HTTPConnection):
    """A client with a small receive buffer, so that when it stops reading the server feels it
    soon (the kernel would otherwise buffer megabytes of loopback traffic)."""

    def connect(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
        self.sock.settimeout(self.timeout)
        self.sock.connect((self.host, self.port))


class Env(ClusterEnv):
    """The cluster, and `whole`: a server that never streams, for the bytes to compare with."""

    def __init__(self, binary, tmp):
        super().__init__(binary, tmp, SCHEMA)
        with open(binary, "rb") as f:
            self.sanitized = b"__asan_init" in f.read()
        self.whole = self.server("--stream-after-bytes", "0")

    def server(self, *args, uri=None):
        return super().server("--cache", "off", *args, uri=uri)

    def streaming(self, *args):
        # Its own application_name, so pg_stat_activity tells its connections from the others'.
        return self.server("--stream-after-bytes", str(STREAM_AFTER), *args,
                           uri=self.uri + "?application_name=" + STREAMING_APP)


def stop(env, server):
    reason = server.stop()
    env.servers.remove(server)
    check(reason is None, "%s\n%s" % (reason, "".join(server.log_tail())))


def compare(env, streaming, target, headers):
    """The same read from the unstreamed and the streaming server: the same body bytes."""
    a = http_request(env.whole.port, "GET", target, headers=headers, timeout=60)
    b = http_request(streaming.port, "GET", target, headers=headers, timeout=60)
    streamed = header(b[1], "content-length") is None
    ranges = header(a[1], "content-range"), header(b[1], "content-range")
    if not streamed:
        check(a[0] == b[0] and ranges[0] == ranges[1],
              "%s: %d %r unstreamed, %d %r streamed" % (target, a[0], ranges[0], b[0], ranges[1]))
    else:
        # Headers go before the rows are known (docs/streaming.md): no Content-Range without a
        # count, the same total with one (and 206 "*/N" when the read was narrowed).
        total = ranges[0].split("/")[-1] if ranges[0] else "*"
        if total == "*":
            check(ranges[1] is None and b[0] == 200,
                  "%s: streamed %d %r without a count" % (target, b[0], ranges[1]))
        else:
            check(ranges[1] is not None and ranges[1].split("/")[-1] == total,
                  "%s: Content-Range %r unstreamed, %r streamed" % (target, ranges[0], ranges[1]))
            check(b[0] == (200 if ranges[1] == ranges[0] else 206),
                  "%s: streamed %d %r" % (target, b[0], ranges[1]))
    check(header(a[1], "content-type") == header(b[1], "content-type"),
          "%s: Content-Type %r unstreamed, %r streamed" % (target, header(a[1], "content-type"),
                                                            header(b[1], "content-type")))
    if a[2] != b[2]:
        at = next((i for i in range(min(len(a[2]), len(b[2]))) if a[2][i] != b[2][i]),
                  min(len(a[2]), len(b[2])))
        raise Fail("%s: %d bytes unstreamed, %d streamed, first difference at %d: %r vs %r"
                   % (target, len(a[2]), len(b[2]), at, a[2][max(0, at - 20):at + 20],
                      b[2][max(0, at - 20):at + 20]))
    return a[2]


def test_identity(env):
    s = env.streaming("--db-pool", "4")
    for target, headers in TARGETS:
        compare(env, s, target, headers)
    stop(env, s)


def test_slow_client(env):
    s = env.streaming("--db-pool", "4", "--server-threads", "1")
    expected = http_request(env.whole.port, "GET", "/big?order=id", timeout=120)[2]
    check(len(expected) > 10 * 1024 * 1024, "/big is only %d bytes" % len(expected))
    before = rss_kib(s.proc.pid)
    conn = SmallWindowConnection("127.0.0.1", s.port, timeout=60)
    try:
        conn.request("GET", "/big?order=id", headers={"Accept-Encoding": "identity"})
        resp = conn.getresponse()
        check(resp.status == 200, "/big answered %d" % resp.status)
        first = resp.read(65536)
        # The client reads nothing more: the stream must stop fetching and wait, its cursor
        # open (its connection idle in its transaction for a while, not between two FETCHes).
        wait_for(lambda: paused_stream(env.uri) is not None, 30,
                 "the stream did not wait for the slow client (no connection idle in transaction)")
        paused = paused_stream(env.uri)
        grown = rss_kib(s.proc.pid) - before
        # (Under AddressSanitizer freed memory stays in its quarantine: RSS says nothing.)
        check(env.sanitized or grown * 1024 < len(expected) // 4,
              "the server grew by %d KiB for a %d-byte body its client does not read"
              % (grown, len(expected)))
        print("     slow client: the server grew by %d KiB while a %d-byte response waited"
              % (grown, len(expected)))
        # Everyone else is served meanwhile.
        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as ex:
            results = list(ex.map(lambda i: http_request(s.port, "GET", "/owners?id=eq.%d" % (i + 1),
                                                         timeout=5), range(40)))
        check(all(r[0] == 200 for r in results),
              "while a client is slow, other reads answered %s" % sorted({r[0] for r in results}))
        compare(env, s, "/items?order=id&limit=1500", [])
        check(paused_stream(env.uri) == paused,
              "the stream fetched while its client read nothing: %r, then %r"
              % (paused, paused_stream(env.uri)))
        rest = resp.read()
    finally:
        conn.close()
    body = first + rest
    check(body == expected, "the slow client got %d bytes, unstreamed %d" % (len(body), len(expected)))
    wait_for(lambda: idle_in_transaction(env.uri) == 0, 10, "the stream's transaction stayed open")
    stop(env, s)


def test_disconnect(env):
    s = env.streaming("--db-pool", "3")
    for _ in range(10):
        conn = SmallWindowConnection("127.0.0.1", s.port, timeout=60)
        conn.request("GET", "/big?order=id", headers={"Accept-Encoding": "identity"})
        resp = conn.getresponse()
        check(resp.status == 200, "/big answered %d" % resp.status)
        resp.read(65536)
        conn.sock.shutdown(socket.SHUT_RDWR)
        conn.close()
        wait_for(lambda: idle_in_transaction(env.uri) == 0, 30,
                 "a stream whose client left kept its transaction open")
    n = pool_connections(env.uri)
    check(1 <= n <= 3, "%d pool connections with db-pool 3" % n)
    for target, headers in TARGETS[:3]:
        compare(env, s, target, headers)
    stop(env, s)


def replica_cursor_reads(uri):
    """Streams' cursors over items run on the replica (their DECLARE, as pg_stat_statements
    tracks utility statements)."""
    return int(psql(uri, "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                         "WHERE query LIKE 'DECLARE %to_json(%FROM \"items\"%'"))


def test_replica(env):
    replica_uri = cluster("start-replica", env.replica_dir, env.primary_dir)
    wait_for(lambda: psql(replica_uri, "SELECT count(*) FROM parts") == "8000", 30,
             "the replica did not catch up")
    s = env.streaming("--db-pool", "4", "--db-replicas", replica_uri)
    before = replica_cursor_reads(replica_uri)
    for target, headers in TARGETS[:5]:
        compare(env, s, target, headers)
    after = replica_cursor_reads(replica_uri)
    check(after - before >= 4, "the replica ran %d streamed reads of items" % (after - before))
    stop(env, s)


TESTS = [("identity", test_identity), ("slow-client", test_slow_client),
         ("disconnect", test_disconnect), ("replica", test_replica)]


def main(argv):
    # After a failure, the first server (env.whole) is kept for the next tests.
    return run_tests(argv, "hotpath-stream-pg-", Env, TESTS, kept_servers=1)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
