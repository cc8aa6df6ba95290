#!/usr/bin/env python3
"""
Query batching against real servers: a SQLite file and a throwaway PostgreSQL cluster
(scripts/pg-cluster.sh), both loaded with the spec fixture plus a table of 1,000 rows.

Usage: run.py BIN

For each backend:
  burst       200 concurrent uniform primary-key reads (one connection each, all sent before any
              answer is read) cost at most 10 SQL statements (the server's counter; on
              PostgreSQL pg_stat_statements agrees), and every answer is the row asked for.
              This client shares two cores with the server and takes 3-9 ms to send 200
              requests, while a lone read takes 0.02 ms (SQLite, on the loop) to 0.2 ms
              (PostgreSQL): with the defaults, reads only gather while one of their shape is in
              flight, so the count depends on the client's pace (3-30 seen here). The run sets
              batch-window-us 2000, the documented way to trade latency for fewer queries
  same        for several shapes (embeds both ways, JSON and boolean columns, NULLs, a missing
              row, the singular media type), a batched answer equals the answer the same
              request gets alone (with batch=off)
  which       which reads may join a batch (RULES): eq on a primary key or a UNIQUE column
              must batch when fired together (seen in Server-Timing's desc="batch of N"); a
              non-unique column (keys with many rows, one row, none), any other filter on the
              key, a second filter, order, offset, limit=0, Range, count, CSV, a view, a JSON
              path, an !inner embed must never; every answer of every burst (each target three
              times, all sent before any answer is read) equals, in status, Content-Range and
              body, the answer a server with batch=off gives the same request alone
  bulk        POST /_/batch with 100 primary-key reads costs one statement; a mix of good and
              bad sub-requests answers each on its own (404, 400, 406, a write, CSV)
  envelope    a malformed /_/batch body is a 400; more than batch-max-requests is a 400
  cache       reads already cached are answered from the cache; only the misses are queried,
              fewer statements than misses
  embeds      products with their details and users with their orders: one statement each
Ends with the line `N passed, N failed`.
"""
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(HERE, "..", "spec"))
from run import Server, http_request  # noqa: E402

CLUSTER = os.path.join(ROOT, "scripts", "pg-cluster.sh")
FIXTURE = os.path.join(HERE, "..", "spec", "fixture.sql")
FIXTURE_PG = os.path.join(HERE, "..", "spec", "fixture.pg.sql")
ROWS = 1000
EXTRA_SQLITE = ("CREATE TABLE points (id INTEGER PRIMARY KEY, label TEXT NOT NULL, v REAL);\n"
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %d)\n"
                "INSERT INTO points SELECT i, 'p' || i, i * 0.5 FROM n;\n" % ROWS)
EXTRA_PG = ("CREATE EXTENSION IF NOT EXISTS pg_stat_statements;\n"
            "CREATE TABLE points (id integer PRIMARY KEY, label text NOT NULL, v double precision);\n"
            "INSERT INTO points SELECT i, 'p' || i, i * 0.5 FROM generate_series(1, %d) i;\n" % ROWS)


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def statements(server):
    return server.db_statements()


def burst(port, targets, headers=()):
    """Opens one connection per target, sends every request, then reads every answer."""
    socks = [socket.create_connection(("127.0.0.1", port), timeout=20) for _ in targets]
    for s, t in zip(socks, targets):
        extra = "".join("%s: %s\r\n" % h for h in headers)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n" % (t, extra)).encode())
    out = []
    for s in socks:
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if b"transfer-encoding: chunked" in head.lower():
            body = dechunk(body)
        out.append((status, head.decode("latin-1"), body))
    return out


def dechunk(body):
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out


def header(head, name):
    """A header's value from a raw response head, or None."""
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name:
            return v.strip()
    return None


def batch_size(head):
    """How many reads the query that answered this one served: Server-Timing's
    desc="batch of N" on a batched answer, else 1."""
    m = re.search(r'desc="batch of (\d+)"', header(head, "server-timing") or "")
    return int(m.group(1)) if m else 1


def answer(status, header_of, body):
    """What a read answers, for comparing: status, Content-Range and the body (parsed when
    JSON, so that number formatting is not compared). header_of(name) gives a header."""
    if "json" in (header_of("content-type") or ""):
        body = json.loads(body)
    return status, header_of("content-range"), body


def get(server, target, headers=()):
    return http_request(server.port, "GET", target, headers=headers)


class Backend:
    def __init__(self, name, binary, tmp):
        self.name = name
        self.binary = binary
        self.tmp = tmp
        self.servers = []
        self.pg_dir = None
        if name == "sqlite":
            self.db = os.path.join(tmp, "batch.db")
            with open(FIXTURE, "rb") as f:
                sql = f.read() + EXTRA_SQLITE.encode()
            out = subprocess.run(["sqlite3", "-bail", self.db], input=sql, capture_output=True)
            check(out.returncode == 0, "fixture: %s" % out.stderr)
        else:
            self.pg_dir = os.path.join(tmp, "pg")
            out = subprocess.run([CLUSTER, "start", self.pg_dir], capture_output=True, text=True,
                                 timeout=120)
            check(out.returncode == 0, "pg-cluster: %s" % out.stderr)
            self.db = out.stdout.strip()
            with open(FIXTURE_PG) as f:
                sql = f.read() + EXTRA_PG
            self.psql(sql)

    def psql(self, sql):
        out = subprocess.run(["psql", self.db, "-X", "-qAt", "-v", "ON_ERROR_STOP=1"], input=sql,
                             capture_output=True, text=True, timeout=60)
        check(out.returncode == 0, "psql: %s" % out.stderr)
        return out.stdout.strip()

    def server(self, *args):
        s = Server(self.binary, self.db, list(args), os.path.join(self.tmp, "server.log"))
        reason = s.start()
        check(reason is None, "server: %s" % reason)
        self.servers.append(s)
        return s

    def stop(self, s):
        reason = s.stop()
        check(reason is None, "server stop: %s\n%s" % (reason, "".join(s.log_tail())))

    def close(self):
        for s in self.servers:
            s.kill()
        if self.pg_dir is not None:
            subprocess.run([CLUSTER, "stop", self.pg_dir], capture_output=True, timeout=120)

    def pg_calls(self):
        """Calls of hotpath's statements per pg_stat_statements (PostgreSQL only)."""
        return int(self.psql("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                             "WHERE query LIKE '%\"points\"%' AND query NOT LIKE '%pg_stat%'"))


def window_args(be):
    return ["--batch-window-us", "2000"]


def test_burst(be):
    s = be.server("--cache", "off", *window_args(be))
    targets = ["/points?id=eq.%d" % (i * 5 + 1) for i in range(200)]
    if be.name == "postgres":
        be.psql("SELECT pg_stat_statements_reset()")
    before = statements(s)
    answers = burst(s.port, targets)
    used = statements(s) - before
    for t, (status, _, body) in zip(targets, answers):
        check(status == 200, "%s answered %d: %r" % (t, status, body[:200]))
        want = int(t.rsplit(".", 1)[1])
        rows = json.loads(body)
        check(rows == [{"id": want, "label": "p%d" % want, "v": want * 0.5}], "%s answered %r" % (t, rows))
    check(used <= 10, "200 concurrent lookups cost %d statements" % used)
    if be.name == "postgres":
        calls = be.pg_calls()
        check(calls <= 10, "pg_stat_statements counted %d calls" % calls)
    be.stop(s)
    return "200 reads, %d statements" % used


SHAPES = [
    ("/users?id=eq.%d", ()),
    ("/users?id=eq.%d&select=id,name,active,meta,orders(id,total,status)", ()),
    ("/orders?id=eq.%d&select=id,total,users(name,email)", ()),
    ("/products?id=eq.%d&select=name,product_details(description,weight)", ()),
    ("/users?id=eq.%d&select=n:name,a:active", (("Accept", "application/vnd.pgrst.object+json"),)),
]


def test_same(be):
    alone = be.server("--cache", "off", "--batch", "off")
    expected = {}
    for shape, headers in SHAPES:
        for i in range(1, 8):  # ids past the fixture's rows answer [] or 406
            status, _, body = get(alone, shape % i, headers)
            expected[(shape, i)] = (status, json.loads(body))
    be.stop(alone)
    s = be.server("--cache", "off")
    batched = 0
    for shape, headers in SHAPES:
        ids = [i for i in range(1, 8) for _ in range(3)]
        before = statements(s)
        answers = burst(s.port, [shape % i for i in ids], headers)
        batched += len(ids) - (statements(s) - before)
        for i, (status, _, body) in zip(ids, answers):
            want = expected[(shape, i)]
            got = (status, json.loads(body))
            if status >= 400:  # error bodies: the code is the contract
                got = (status, got[1].get("code"))
                want = (want[0], want[1].get("code"))
            check(got == want, "%s: batched %r, alone %r" % (shape % i, got, want))
    check(batched > 0, "no request was batched")
    be.stop(s)


# Which reads may join a batch (docs/batching.md, "Which reads"): each rule is
# (what, MUST | NEVER | MAY, targets, headers). MUST: fired together, some are answered by one
# batched query; NEVER: no answer may come from a batch; MAY: either (the answer is the same).
MUST, NEVER, MAY = "must batch", "never batches", "may batch"
OBJECT = (("Accept", "application/vnd.pgrst.object+json"),)
RULES = [
    ("eq on the primary key (6, 99: no row)", MUST, ["/users?id=eq.%d" % k for k in (1, 2, 3, 5, 6, 99)], ()),
    ("eq on the primary key, with embeds", MUST,
     ["/users?id=eq.%d&select=id,name,orders(id,total)" % k for k in (1, 2, 4, 6)], ()),
    ("eq on a UNIQUE column (a NULL in it; nobody@: no row)", MUST,
     ["/users?email=eq.%s&select=id,name,email" % e for e in
      ("ann@example.com", "bob@example.com", "dee@example.org", "eve@example.org", "nobody@example.com")], ()),
    ("eq on the primary key, singular (6: 406)", MUST, ["/users?id=eq.%d&select=id,name" % k for k in (1, 3, 6)],
     OBJECT),
    # At most one row either way: a cap of one or more rows, or offset=0, changes nothing.
    ("eq on the primary key, limit=1", MAY, ["/users?id=eq.%d&limit=1" % k for k in (1, 2, 9)], ()),
    ("eq on the primary key, offset=0", MAY, ["/users?id=eq.%d&offset=0&select=id" % k for k in (1, 2, 9)], ()),
    # A key that is no value of the key's type (an error on PostgreSQL) among good ones.
    ("eq on the primary key, one bad key", MAY, ["/points?id=eq.%s" % k for k in ("1", "2", "x", "3")], ()),
    ("non-unique column, keys with 3, 1, 1, 0, 0 rows", NEVER,
     ["/orders?user_id=eq.%d&select=id,user_id,total" % k for k in (1, 2, 3, 4, 99)], ()),
    ("non-unique column, one row per key", NEVER, ["/points?label=eq.p%d" % k for k in range(1, 9)], ()),
    ("non-unique text column", NEVER,
     ["/orders?status=eq.%s&select=id" % v for v in ("paid", "pending", "cancelled", "none")], ()),
    ("non-unique self-reference", NEVER, ["/items?parent_id=eq.%d" % k for k in (1, 2, 3)], ()),
    ("non-unique column, singular (3 rows: 406)", NEVER, ["/orders?user_id=eq.%d&select=id" % k for k in (1, 2, 4)],
     OBJECT),
    ("eq on a view's id", NEVER, ["/active_users?id=eq.%d" % k for k in (1, 2, 3)], ()),
    ("gt, gte, lt, lte, neq on the key", NEVER,
     ["/users?id=%s.%d&select=id" % (op, k) for op in ("gt", "gte", "lt", "lte", "neq") for k in (2, 4)], ()),
    ("in, is, not.eq on the key", NEVER,
     ["/users?id=in.(%d)&select=id" % k for k in (1, 2)] + ["/users?id=is.null", "/users?id=not.eq.1&select=id",
                                                           "/users?id=not.eq.2&select=id"], ()),
    ("or=(id.eq.K)", NEVER, ["/users?or=(id.eq.%d)&select=id" % k for k in (1, 2, 3)], ()),
    ("the key and another filter", NEVER, ["/users?id=eq.%d&active=is.true&select=id" % k for k in (1, 2, 3)], ()),
    ("the key with order", NEVER, ["/users?id=eq.%d&order=name.desc&select=id" % k for k in (1, 2, 3)], ()),
    ("the key with offset=1", NEVER, ["/users?id=eq.%d&offset=1&select=id" % k for k in (1, 2, 3)], ()),
    ("the key with limit=0", NEVER, ["/users?id=eq.%d&limit=0" % k for k in (1, 2, 3)], ()),
    ("the key with Range", NEVER, ["/users?id=eq.%d&select=id" % k for k in (1, 2, 9)], (("Range", "0-0"),)),
    ("the key with Prefer: count=exact", NEVER, ["/users?id=eq.%d&select=id" % k for k in (1, 2, 9)],
     (("Prefer", "count=exact"),)),
    ("the key as CSV", NEVER, ["/users?id=eq.%d&select=id,name" % k for k in (1, 2, 9)], (("Accept", "text/csv"),)),
    ("a JSON path", NEVER, ["/users?meta->>level=eq.%d&select=id" % k for k in (1, 3, 7)], ()),
    ("the key with an !inner embed", NEVER,
     ["/users?id=eq.%d&select=id,orders!inner(id)" % k for k in (1, 2, 5)], ()),
]
BURSTS = 5  # a MUST rule's burst is fired again (at most this often) until one answer is batched


def test_which(be):
    alone = be.server("--cache", "off", "--batch", "off")
    expected = {}
    for _, _, targets, headers in RULES:
        for t in targets:
            status, got, body = get(alone, t, headers)
            got = {k.lower(): v for k, v in got}
            expected[(t, headers)] = answer(status, got.get, body)
    be.stop(alone)
    s = be.server("--cache", "off", *window_args(be))
    seen = {MUST: 0, NEVER: 0, MAY: 0}
    for what, rule, targets, headers in RULES:
        batched = 0
        for attempt in range(BURSTS if rule == MUST else 1):
            fired = [t for _ in range(3) for t in targets]  # each target three times at once
            for t, (status, head, body) in zip(fired, burst(s.port, fired, headers)):
                got, want = answer(status, lambda n: header(head, n), body), expected[(t, headers)]
                check(got == want, "%s: %s%s: batched %r, alone %r"
                      % (what, t, " (%s)" % headers if headers else "", got, want))
                if batch_size(head) > 1:
                    batched += 1
                    check(rule != NEVER, "%s: %s was answered by a batch of %d: this read may not batch"
                          % (what, t, batch_size(head)))
            if batched:
                break
        check(rule != MUST or batched, "%s: none of %d bursts of %d was batched"
              % (what, BURSTS, 3 * len(targets)))
        seen[rule] += 1
    be.stop(s)
    return "%d rules that must batch, %d that never do, %d either way; answers equal" % (
        seen[MUST], seen[NEVER], seen[MAY])


def test_bulk(be):
    s = be.server()
    subs = [{"path": "/points?id=eq.%d" % (i * 7 + 3)} for i in range(100)]
    before = statements(s)
    status, _, body = http_request(s.port, "POST", "/_/batch", body=json.dumps(subs).encode(),
                                   headers=[("Content-Type", "application/json")])
    used = statements(s) - before
    check(status == 200, "/_/batch answered %d: %r" % (status, body[:300]))
    answers = json.loads(body)
    check(len(answers) == 100, "%d answers" % len(answers))
    for i, a in enumerate(answers):
        want = i * 7 + 3
        check(a["status"] == 200 and a["body"] == [{"id": want, "label": "p%d" % want, "v": want * 0.5}],
              "answer %d: %r" % (i, a))
    check(used == 1, "100 lookups in /_/batch cost %d statements" % used)

    mixed = [
        {"path": "/points?id=eq.1"},
        {"path": "/nowhere"},
        {"path": "/points?id=eq.2&select=nope"},
        {"path": "/points?id=eq.999999", "headers": {"Accept": "application/vnd.pgrst.object+json"}},
        {"method": "POST", "path": "/notes?select=id,body", "headers": {"Prefer": "return=representation"},
         "body": {"id": 500, "body": "from bulk"}},
        {"path": "/points?select=id&id=lte.2&order=id", "headers": {"Accept": "text/csv"}},
        {"method": "TRACE", "path": "/points"},
        "not an object",
        {"path": "/points?id=eq.3"},
    ]
    status, _, body = http_request(s.port, "POST", "/_/batch", body=json.dumps(mixed).encode(),
                                   headers=[("Content-Type", "application/json")])
    check(status == 200, "mixed /_/batch answered %d" % status)
    got = [(a["status"], a["body"]) for a in json.loads(body)]
    check(got[0] == (200, [{"id": 1, "label": "p1", "v": 0.5}]), "good read: %r" % (got[0],))
    check(got[1][0] == 404 and got[1][1]["code"] == "PGRST205", "unknown table: %r" % (got[1],))
    check(got[2][0] == 400 and got[2][1]["code"] == "42703", "unknown column: %r" % (got[2],))
    check(got[3][0] == 406 and got[3][1]["code"] == "PGRST116", "singular miss: %r" % (got[3],))
    check(got[4][0] == 201 and got[4][1] == [{"id": 500, "body": "from bulk"}], "write: %r" % (got[4],))
    check(got[5][0] == 200 and got[5][1].rstrip("\n") == "id\n1\n2", "csv: %r" % (got[5],))
    check(got[6][0] == 405, "bad method: %r" % (got[6],))
    check(got[7][0] == 400 and got[7][1]["code"] == "PGRST102", "not an object: %r" % (got[7],))
    check(got[8] == (200, [{"id": 3, "label": "p3", "v": 1.5}]), "last read: %r" % (got[8],))
    status, _, body = get(s, "/notes?id=eq.500&select=id,body")
    check(json.loads(body) == [{"id": 500, "body": "from bulk"}], "the bulk write is visible: %r" % body)
    be.stop(s)
    return "100 lookups, %d statement" % used


def test_envelope(be):
    s = be.server("--batch-max-requests", "3")
    for payload in (b"{\"path\": \"/points\"}", b"[1,", b""):
        status, _, body = http_request(s.port, "POST", "/_/batch", body=payload,
                                       headers=[("Content-Type", "application/json")])
        check(status == 400 and json.loads(body)["code"] == "PGRST102",
              "envelope %r answered %d %r" % (payload, status, body))
    four = json.dumps([{"path": "/points?id=eq.1"}] * 4).encode()
    status, _, body = http_request(s.port, "POST", "/_/batch", body=four,
                                   headers=[("Content-Type", "application/json")])
    check(status == 400, "4 sub-requests over a limit of 3 answered %d" % status)
    status, _, _ = get(s, "/_/batch")
    check(status == 405, "GET /_/batch answered %d" % status)
    be.stop(s)


def test_cache(be):
    s = be.server(*window_args(be))
    warm = ["/points?id=eq.%d" % i for i in range(1, 51)]
    for t in warm:
        get(s, t)
    cold = ["/points?id=eq.%d" % i for i in range(501, 551)]
    before = statements(s)
    answers = burst(s.port, warm + cold)
    used = statements(s) - before
    hits = sum(1 for _, head, _ in answers[:50] if "cache-status: hotpath; hit" in head.lower())
    for t, (status, _, body) in zip(warm + cold, answers):
        want = int(t.rsplit(".", 1)[1])
        check(status == 200 and json.loads(body)[0]["id"] == want, "%s: %d %r" % (t, status, body[:100]))
    check(hits == 50, "%d of 50 cached reads were hits" % hits)
    # Hits cost no statement and the misses gather (1-6 statements seen here, more when the
    # client is slowed down): fewer statements than misses pins both without timing.
    check(1 <= used < 50, "50 misses (and 50 hits) cost %d statements" % used)
    be.stop(s)
    return "50 hits, 50 misses, %d statements" % used


def test_embeds(be):
    s = be.server("--cache", "off")
    for target in ("/products?select=id,name,product_details(description,weight)",
                   "/users?select=id,name,orders(id,total,status)",
                   "/users?select=id,orders(id,users(name))&id=lte.3"):
        before = statements(s)
        status, _, body = get(s, target)
        used = statements(s) - before
        check(status == 200 and len(json.loads(body)) > 0, "%s answered %d" % (target, status))
        check(used == 1, "%s cost %d statements" % (target, used))
    be.stop(s)


TESTS = [("burst", test_burst), ("same", test_same), ("which", test_which), ("bulk", test_bulk),
         ("envelope", test_envelope), ("cache", test_cache), ("embeds", test_embeds)]


def main(argv):
    if len(argv) != 2:
        print("usage: run.py BIN", file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    passed = failed = 0
    for name in ("sqlite", "postgres"):
        tmp = tempfile.mkdtemp(prefix="hotpath-batch-")
        os.chmod(tmp, 0o755)
        be = None
        try:
            be = Backend(name, binary, tmp)
            for test_name, fn in TESTS:
                try:
                    note = fn(be)
                    passed += 1
                    print("ok   %s %s%s" % (name, test_name, " (%s)" % note if note else ""))
                except (Fail, OSError, http.client.HTTPException, ValueError, KeyError) as e:
                    failed += 1
                    print("FAIL %s %s: %s" % (name, test_name, e))
                    for srv in be.servers:
                        srv.kill()
                    be.servers = []
                sys.stdout.flush()
        except Fail as e:
            print("FAIL %s setup: %s" % (name, e))
            failed += len(TESTS)
        finally:
            if be is not None:
                be.close()
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
