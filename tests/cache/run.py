#!/usr/bin/env python3
"""
The response cache and compression, end to end, against real servers on real SQLite files.

Usage: run.py BIN

Every group of tests builds a fresh database with the sqlite3 CLI in a temporary directory,
starts `BIN serve` on it with the group's options (the spec runner's Server), runs its tests in
order, then stops the server with SIGTERM by PID and expects exit status 0. It prints one
`ok`/`FAIL` line per test (`skip` with the reason when a test cannot run here), then exactly
`N passed, N failed, N skipped`; the exit status is 1 when anything failed. Python 3 standard library only;
the br and zstd checks use the `brotli` and `zstd` command-line tools (scripts/install-deps.sh).

What is checked (GET/HEAD on a table):
 - Cache-Status: `hotpath; fwd=miss; stored`, then `hotpath; hit; ttl=N`; equivalent URLs
   (parameters in another order) share an entry; Accept, Prefer: count=exact and Range make
   separate entries; HEAD is answered from the GET entry.
 - Validators: a strong 16-hex-digit ETag and Last-Modified; If-None-Match and
   If-Modified-Since give 304 (a 304 from the cache runs no query: no `db` in Server-Timing).
 - Vary, Cache-Control from --cache-policy (per table and `*`), `off` and `--cache off` bypass.
 - Never stale after a write through hotpath (also embedded tables, and under concurrency on
   several connections), nor more than EXTERNAL_BOUND_MS after a write by the sqlite3 CLI.
 - Compression: gzip, br, zstd and q-values; the decompressed body equals the identity body;
   gzip and identity clients never get each other's bytes; the size threshold and its option.
 - TTL, stale-while-revalidate, stale-if-error (reads made to fail by holding the WAL-index
   locks: see ReadsFail), the byte bound (--cache-max-bytes) with eviction and RSS.
 - Server-Timing on every GET/HEAD response, errors included: `cache;dur=`, and `db;dur=` on
   misses (a collapsed miss, which waited on another request's query, is counted, not failed).
 - If-Modified-Since never confirms a copy older than a write (1 s dates: a write in the same
   second as the copy's Last-Modified).
HP_CACHE_KEEP=1 keeps the temporary directories.
"""
import email.utils
import fcntl
import gzip
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec"))
from run import Server  # noqa: E402  (the spec runner's server control)

TIMEOUT = 10.0  # seconds, every request
EXTERNAL_BOUND_MS = 100
USERS = 40
PAGES = 420  # rows of ~200 bytes: `limit=100&offset=K` is ~20 KB for K < 320

MISS_STORED = "hotpath; fwd=miss; stored"
BYPASS = "hotpath; fwd=bypass"
SIE = "hotpath; hit; fwd=stale; detail=stale-if-error"
HIT_RE = re.compile(r"hotpath; hit; ttl=(\d+)")
STALE_RE = re.compile(r"hotpath; hit; fwd=stale; ttl=(0|-\d+)")  # ttl=-N, N >= 0 (-0 is written 0)
ETAG_RE = re.compile(r'"[0-9a-fA-F]{16}"')
HTTP_DATE_RE = re.compile(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                          r"\d{4} \d\d:\d\d:\d\d GMT")
VARY_EXPECTED = ["accept", "accept-encoding", "prefer", "range"]


# --- the database ----------------------------------------------------------------------------

WORDS = ("cache stale fresh query table index snapshot writer reader lock page row column value "
         "select order limit offset range header body entry shard sieve hand visited bit epoch "
         "version slot bump publish abandon waiter leader refresh window error timing").split()


def text(seed, n):
    """Deterministic compressible text of n characters."""
    out = []
    x = seed * 2654435761 % 4294967296
    while sum(len(w) + 1 for w in out) < n:
        x = (x * 1103515245 + 12345) % 2147483648
        out.append(WORDS[x % len(WORDS)])
    return " ".join(out)[:n]


def schema_sql():
    s = ["PRAGMA journal_mode=WAL;",
         "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, bio TEXT);",
         "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id), total REAL);",
         "CREATE TABLE pol (id INTEGER PRIMARY KEY, v TEXT);",
         "CREATE TABLE nocache (id INTEGER PRIMARY KEY, v TEXT);",
         "CREATE TABLE counters (id INTEGER PRIMARY KEY, value INTEGER NOT NULL);",
         "CREATE TABLE events (id INTEGER PRIMARY KEY, worker INTEGER NOT NULL);",
         "CREATE TABLE pages (id INTEGER PRIMARY KEY, body TEXT NOT NULL);",
         "BEGIN;"]
    for i in range(1, USERS + 1):
        s.append("INSERT INTO users VALUES (%d, 'user-%d', '%s');" % (i, i, text(i, 160)))
    for i in range(1, 11):
        s.append("INSERT INTO orders VALUES (%d, %d, %d.5);" % (i, 1 + i % 4, 10 * i))
    for i in range(1, 4):
        s.append("INSERT INTO pol VALUES (%d, 'p%d');" % (i, i))
        s.append("INSERT INTO nocache VALUES (%d, 'n%d');" % (i, i))
    for i in range(1, 101):
        s.append("INSERT INTO counters VALUES (%d, 0);" % i)
    for i in range(1, PAGES + 1):
        s.append("INSERT INTO pages VALUES (%d, '%s');" % (i, text(1000 + i, 180)))
    s.append("COMMIT;")
    return "\n".join(s) + "\n"


# --- HTTP --------------------------------------------------------------------------------------

class Resp:
    def __init__(self, method, target, status, headers, body, elapsed):
        self.method = method
        self.target = target
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def h(self, name):
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return ", ".join(values) if values else None

    @property
    def cs(self):
        return self.h("Cache-Status")

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "%s %s -> %d, Cache-Status %r, %d bytes" % (self.method, self.target, self.status, self.cs,
                                                           len(self.body))


TIMING_LOG = []  # every response: (method, target, status, Cache-Status, Server-Timing)
TIMING_LOCK = threading.Lock()


def send(conn, method, target, headers=None, body=None):
    headers = dict(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    conn.putrequest(method, target, skip_accept_encoding=True)
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
        headers["Content-Length"] = str(len(body))
    elif method in ("POST", "PATCH"):
        headers["Content-Length"] = "0"
    for k, v in headers.items():
        conn.putheader(k, v)
    start = time.monotonic()
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    r = Resp(method, target, resp.status, resp.getheaders(), data, time.monotonic() - start)
    with TIMING_LOCK:
        TIMING_LOG.append((method, target, r.status, r.cs, r.h("Server-Timing")))
    return r


def req(port, method, target, headers=None, body=None, timeout=TIMEOUT):
    """One request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        return send(conn, method, target, headers, body)
    finally:
        conn.close()


def get(port, target, headers=None):
    return req(port, "GET", target, headers)


class Client:
    """A keep-alive connection of its own (a GET or HEAD reconnects once if the server closed it)."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)

    def request(self, method, target, headers=None, body=None):
        try:
            return send(self.conn, method, target, headers, body)
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if method not in ("GET", "HEAD"):
                raise  # a write may have been applied: never send it twice
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
            return send(self.conn, method, target, headers, body)

    def close(self):
        self.conn.close()


# --- checks ------------------------------------------------------------------------------------

class Failure(Exception):
    pass


class Skip(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


class Threads:
    """Worker threads whose failures are the test's own: start() runs fn(*args) on a daemon
    thread and keeps any exception it raises; join() waits for the given threads (all started
    so far by default), at most `timeout` seconds in all, and raises Failure naming each thread
    still running then and each exception raised so far (each reported once)."""

    def __init__(self):
        self.started = []
        self.errors = []
        self.lock = threading.Lock()

    def start(self, name, fn, *args):
        def body():
            try:
                fn(*args)
            except BaseException as e:  # noqa: BLE001 - handed to join()
                with self.lock:
                    self.errors.append("%s raised %s: %s" % (name, type(e).__name__, e))
        t = threading.Thread(target=body, name=name, daemon=True)
        self.started.append(t)
        t.start()
        return t

    def join(self, timeout, threads=None):
        threads = self.started if threads is None else threads
        deadline = time.monotonic() + timeout
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        problems = ["%s still running after %g s" % (t.name, timeout) for t in threads if t.is_alive()]
        with self.lock:
            problems += self.errors
            self.errors = []
        expect(not problems, "; ".join(problems))


def expect_status(r, status):
    expect(r.status == status, "%r: status %d, expected %d; body %r" % (r, r.status, status, r.body[:200]))


def expect_cs(r, expected):
    """expected: an exact string, or a compiled regex that must match fully."""
    cs = r.cs
    if isinstance(expected, str):
        ok = cs == expected
        shown = expected
    else:
        ok = cs is not None and expected.fullmatch(cs) is not None
        shown = "~" + expected.pattern
    expect(ok, "%s %s: Cache-Status %r, expected %r" % (r.method, r.target, cs, shown))


def expect_hit(r):
    expect_status(r, 200)
    expect_cs(r, HIT_RE)


def expect_miss(r):
    expect_status(r, 200)
    expect_cs(r, MISS_STORED)


def miss_then_hit(port, target, headers=None):
    a = get(port, target, headers)
    expect_miss(a)
    b = get(port, target, headers)
    expect_hit(b)
    expect(a.body == b.body, "%s: the hit's body differs from the miss's:\n      %r\n      %r"
           % (target, a.body[:200], b.body[:200]))
    return a, b


def tokens(value):
    return [t.strip().lower() for t in (value or "").split(",") if t.strip()]


# --- the test groups ---------------------------------------------------------------------------
# Each test is fn(srv) -> None or an info string; it raises Failure or Skip.

# Default server: caching on with the defaults.

def t_miss_then_hit(srv):
    a, b = miss_then_hit(srv.port, "/users?select=id,name&id=lt.4")
    expect(a.json() == [{"id": 1, "name": "user-1"}, {"id": 2, "name": "user-2"}, {"id": 3, "name": "user-3"}],
           "unexpected body %r" % a.body)
    expect(a.h("ETag") == b.h("ETag"), "ETag changed between miss and hit: %r, %r" % (a.h("ETag"), b.h("ETag")))
    c = get(srv.port, "/users?select=id,name&id=lt.4")
    expect_hit(c)
    return "ttl=%s" % HIT_RE.fullmatch(b.cs).group(1)


def t_param_order(srv):
    expect_miss(get(srv.port, "/users?id=eq.7&select=id,name"))
    r = get(srv.port, "/users?select=id,name&id=eq.7")
    expect_hit(r)
    expect(r.json() == [{"id": 7, "name": "user-7"}], "unexpected body %r" % r.body)


def t_accept_variants(srv):
    u = "/users?id=eq.2&select=id,name"
    js = {"Accept": "application/json"}
    csv = {"Accept": "text/csv"}
    obj = {"Accept": "application/vnd.pgrst.object+json"}
    a, _ = miss_then_hit(srv.port, u, js)
    expect(a.json() == [{"id": 2, "name": "user-2"}], "JSON body %r" % a.body)
    c, _ = miss_then_hit(srv.port, u, csv)
    expect(c.body.decode().replace("\r\n", "\n").strip() == "id,name\n2,user-2", "CSV body %r" % c.body)
    expect((c.h("Content-Type") or "").startswith("text/csv"), "CSV Content-Type %r" % c.h("Content-Type"))
    o, _ = miss_then_hit(srv.port, u, obj)
    expect(o.json() == {"id": 2, "name": "user-2"}, "object body %r" % o.body)
    again = get(srv.port, u, js)
    expect_hit(again)
    expect(again.json() == [{"id": 2, "name": "user-2"}], "JSON body after the other variants %r" % again.body)
    again = get(srv.port, u, csv)
    expect_hit(again)
    expect(again.body == c.body, "CSV body after the other variants %r" % again.body)


def t_prefer_count(srv):
    u = "/users?select=id&id=lte.3"
    plain, _ = miss_then_hit(srv.port, u)
    cnt = {"Prefer": "count=exact"}
    a, b = miss_then_hit(srv.port, u, cnt)
    expect(b.h("Content-Range") == "0-2/3", "count=exact hit: Content-Range %r, expected '0-2/3'"
           % b.h("Content-Range"))
    r = get(srv.port, u)
    expect_hit(r)
    expect(r.h("Content-Range") == plain.h("Content-Range"),
           "plain GET after count=exact: Content-Range %r, expected %r" % (r.h("Content-Range"),
                                                                         plain.h("Content-Range")))


def t_range(srv):
    u = "/users?select=id&order=id&id=lte.10"
    miss_then_hit(srv.port, u)
    a, _ = miss_then_hit(srv.port, u, {"Range": "0-1"})
    expect(a.json() == [{"id": 1}, {"id": 2}], "Range 0-1 body %r" % a.body)
    b = get(srv.port, u, {"Range": "2-3"})
    expect_miss(b)
    expect(b.json() == [{"id": 3}, {"id": 4}], "Range 2-3 body %r" % b.body)
    expect(b.h("Content-Range") == "2-3/*", "Range 2-3: Content-Range %r" % b.h("Content-Range"))
    r = get(srv.port, u)
    expect_hit(r)
    expect(len(r.json()) == 10, "no Range after Range requests: %r" % r.body)


VOLATILE = {"date", "server-timing", "cache-status", "age", "connection", "keep-alive", "content-length",
            "x-request-id"}


def t_head(srv):
    u = "/users?select=id,name&id=lte.5"
    g, _ = miss_then_hit(srv.port, u)
    h = req(srv.port, "HEAD", u)
    expect_status(h, 200)
    expect_cs(h, HIT_RE)
    expect(h.body == b"", "HEAD has a body of %d bytes" % len(h.body))
    problems = []
    for name in sorted({k.lower() for k, _ in g.headers} - VOLATILE):
        if h.h(name) != g.h(name):
            problems.append("%s: GET %r, HEAD %r" % (name, g.h(name), h.h(name)))
    if h.h("Content-Length") is not None and h.h("Content-Length") != str(len(g.body)):
        problems.append("Content-Length %r, the GET body has %d bytes" % (h.h("Content-Length"), len(g.body)))
    expect(not problems, "HEAD headers differ from the GET's: " + "; ".join(problems))


def http_time(value):
    return email.utils.parsedate_to_datetime(value).timestamp()


def t_validators(srv):
    # Last-Modified has whole seconds; in the second of a change the server may leave it out
    # (it could not tell the copies before and after a second change in that second apart): so
    # this waits until orders' last change, the server's start, is over a second old.
    sleep_past(srv.started, 1.2)
    r = get(srv.port, "/orders?select=id,total&order=id")
    expect_status(r, 200)
    etag, lm = r.h("ETag"), r.h("Last-Modified")
    expect(etag is not None and ETAG_RE.fullmatch(etag), "ETag %r is not a strong \"<16 hex digits>\"" % etag)
    expect(lm is not None and HTTP_DATE_RE.fullmatch(lm), "Last-Modified %r is not an HTTP date" % lm)
    expect(r.h("Date") is None or http_time(lm) <= http_time(r.h("Date")),
           "Last-Modified %r is later than Date %r" % (lm, r.h("Date")))
    r2 = get(srv.port, "/orders?select=id,total&order=id")
    expect(r2.h("ETag") == etag and r2.h("Last-Modified") == lm,
           "hit: ETag/Last-Modified %r/%r, miss had %r/%r" % (r2.h("ETag"), r2.h("Last-Modified"), etag, lm))
    other = get(srv.port, "/orders?select=id&order=id")
    expect(other.h("ETag") != etag, "a different body has the same ETag %r" % etag)


def t_if_none_match(srv):
    u = "/orders?select=id,user_id&order=id"
    _, hit = miss_then_hit(srv.port, u)
    etag = hit.h("ETag")
    r = get(srv.port, u, {"If-None-Match": etag})
    expect_status(r, 304)
    expect(r.body == b"", "304 with a body of %d bytes" % len(r.body))
    expect(r.h("ETag") == etag, "304: ETag %r, expected %r" % (r.h("ETag"), etag))
    # No query counter is exposed; a 304 from the cache must not have queried (no `db` metric).
    st = r.h("Server-Timing") or ""
    expect(not re.search(r"(^|,)\s*db\s*(;|,|$)", st),
           "304 on a cached entry: Server-Timing %r shows a database query" % st)
    r = get(srv.port, u, {"If-None-Match": '"other"'})
    expect_status(r, 200)
    expect(r.body == hit.body, "If-None-Match \"other\": body differs from the entry's")
    r = req(srv.port, "HEAD", u, {"If-None-Match": etag})
    expect_status(r, 304)


def t_if_none_match_list(srv):
    # RFC 9110 13.1.2: a list of entity tags; any match is a 304.
    u = "/orders?select=id,total&id=lte.3"
    r = get(srv.port, u)
    expect_status(r, 200)
    etag = r.h("ETag")
    r = get(srv.port, u, {"If-None-Match": '"aaaaaaaaaaaaaaaa", %s' % etag})
    expect_status(r, 304)


def t_if_modified_since(srv):
    # HTTP dates have whole seconds: within the second of a change a Last-Modified cannot tell the
    # copies before and after it apart, so the server may answer 200 there (never stale). This
    # checks the 304 rule once orders' last change (the server's start) is over a second old.
    waited = max(0.0, srv.started + 1.2 - time.monotonic())
    sleep_past(srv.started, 1.2)
    u = "/orders?select=id,total&id=gte.5"
    r = get(srv.port, u)
    expect_status(r, 200)
    lm, date = r.h("Last-Modified"), r.h("Date")
    expect(lm is not None, "no Last-Modified")
    r = get(srv.port, u, {"If-Modified-Since": lm})
    expect_status(r, 304)
    expect(r.body == b"", "304 with a body")
    later = date if date else lm
    r = get(srv.port, u, {"If-Modified-Since": later})
    expect_status(r, 304)
    earlier = email.utils.formatdate(email.utils.parsedate_to_datetime(lm).timestamp() - 86400, usegmt=True)
    r = get(srv.port, u, {"If-Modified-Since": earlier})
    expect_status(r, 200)
    r = get(srv.port, u, {"If-Modified-Since": lm, "If-None-Match": '"other"'})
    expect(r.status == 200, "If-None-Match \"other\" with If-Modified-Since = Last-Modified: status %d, "
           "expected 200 (If-Modified-Since is ignored when If-None-Match is sent)" % r.status)
    return ("waited %.1f s for a Last-Modified over a second old" % waited) if waited else None


def t_if_modified_since_after_write(srv):
    # A client revalidating a copy with If-Modified-Since must not be told "not modified" after
    # a write, also when the write fell in the same second as the copy (HTTP dates have 1 s
    # resolution): a 304 would keep its stale copy current until a later write. The validator
    # is the copy's Last-Modified, or its Date when it has none (RFC 9110 13.1.3: caches do so).
    u = "/orders?select=id,total&id=eq.6"
    problems = []

    def write(value):
        w = req(srv.port, "PATCH", "/orders?id=eq.6", body={"total": value})
        expect_status(w, 204)

    def revalidate(validator, value, when):
        r = get(srv.port, u, {"If-Modified-Since": validator})
        if r.status != 200 or r.json() != [{"id": 6, "total": value}]:
            problems.append("%s: If-Modified-Since: %s answered %d (body %r), the data changed since that copy"
                            % (when, validator, r.status, r.body[:60]))

    while time.time() % 1.0 > 0.3:  # start early in a second: the steps below stay within it
        time.sleep(0.02)
    second = time.monotonic()
    kinds = []
    # 1: a copy made in the second of a write; 2: a copy made once that second is over.
    for step, (v1, v2) in enumerate(((601, 701), (None, 702))):
        if v1 is not None:
            write(v1)
        copy = get(srv.port, u)
        expect_status(copy, 200)
        validator = copy.h("Last-Modified") or copy.h("Date")
        kind = "Last-Modified" if copy.h("Last-Modified") else "Date"
        kinds.append(kind)
        expect(validator is not None, "a 200 GET with neither Last-Modified nor Date")
        write(v2)
        revalidate(validator, v2, "copy %d (%s), same second" % (step + 1, kind))
        sleep_past(second, 1.2 * (step + 1))  # that second is over
        revalidate(validator, v2, "copy %d (%s), a second later" % (step + 1, kind))
    expect(not problems, "; ".join(problems))
    return "validators: " + ", ".join(kinds)


def t_vary_cache_control(srv):
    _, r = miss_then_hit(srv.port, "/users?select=id&id=gt.30")
    expect(sorted(tokens(r.h("Vary"))) == VARY_EXPECTED, "Vary %r, expected 'Accept, Accept-Encoding, Prefer, Range'"
           % r.h("Vary"))
    expect(r.h("Cache-Control") == "no-cache", "Cache-Control %r, expected 'no-cache'" % r.h("Cache-Control"))
    m = get(srv.port, "/users?select=id&id=gt.31")
    expect(sorted(tokens(m.h("Vary"))) == VARY_EXPECTED, "Vary on a miss: %r" % m.h("Vary"))


def t_errors_not_cached(srv):
    # Error responses are answered afresh each time (and, as every response, carry Server-Timing).
    for u, hdr, status in (("/users?nope=eq.1", {}, 400),
                           ("/users?select=id&id=eq.1", {"Range": "5-9", "Prefer": "count=exact"}, 416)):
        for i in range(2):
            r = get(srv.port, u, hdr)
            expect_status(r, status)
            expect(not (r.cs or "").startswith("hotpath; hit"), "%s (%d) #%d: Cache-Status %r" % (u, status, i, r.cs))


def write_then_read(port, target, method, wtarget, body, wstatus, check):
    miss_then_hit(port, target)
    w = req(port, method, wtarget, body=body)
    expect_status(w, wstatus)
    r = get(port, target)
    expect_miss(r)
    check(r.json())


def t_write_patch(srv):
    def check(rows):
        expect(rows == [{"id": 2, "total": 77.5}], "after PATCH: %r" % rows)
    write_then_read(srv.port, "/orders?id=eq.2&select=id,total", "PATCH", "/orders?id=eq.2", {"total": 77.5}, 204,
                    check)


def t_write_post(srv):
    def check(rows):
        expect({"id": 100} in rows, "after POST: %r" % rows)
    write_then_read(srv.port, "/orders?user_id=eq.3&select=id&order=id", "POST", "/orders",
                    {"id": 100, "user_id": 3, "total": 1}, 201, check)


def t_write_delete(srv):
    def check(rows):
        expect({"id": 100} not in rows and rows, "after DELETE: %r" % rows)
    write_then_read(srv.port, "/orders?user_id=eq.3&select=id,total&order=id", "DELETE", "/orders?id=eq.100", None,
                    204, lambda rows: check([{"id": x["id"]} for x in rows]))


def t_write_embedded(srv):
    def check_child(rows):
        expect(rows and rows[0]["orders"] and {"total": 55.25} in rows[0]["orders"],
               "after PATCH to orders, the embedding entry shows %r" % rows)
    write_then_read(srv.port, "/users?select=id,orders(total)&id=eq.1", "PATCH", "/orders?id=eq.4",
                    {"total": 55.25}, 204, check_child)

    def check_parent(rows):
        expect(rows == [{"id": 3, "users": {"name": "renamed"}}], "after PATCH to users: %r" % rows)
    write_then_read(srv.port, "/orders?select=id,users(name)&id=eq.3", "PATCH", "/users?id=eq.4",
                    {"name": "renamed"}, 204, check_parent)


def t_external_write(srv):
    c = Client(srv.port)
    u = "/counters?id=eq.100&select=value"
    worst = 0.0
    try:
        for attempt in range(10):
            value = 1000000 + attempt
            c.request("GET", u)
            r = c.request("GET", u)
            expect_hit(r)
            subprocess.run(["sqlite3", srv.db, "UPDATE counters SET value = %d WHERE id = 100" % value],
                           check=True, timeout=30, capture_output=True)
            written = time.monotonic()
            while True:
                r = c.request("GET", u)
                expect_status(r, 200)
                if r.json() == [{"value": value}]:
                    break
                ms = (time.monotonic() - written) * 1000
                expect(ms <= EXTERNAL_BOUND_MS, "attempt %d: an external UPDATE was not visible after %d ms "
                       "(still %r, Cache-Status %r)" % (attempt, ms, r.body, r.cs))
                time.sleep(0.003)
            worst = max(worst, (time.monotonic() - written) * 1000)
    finally:
        c.close()
    return "worst %.0f ms" % worst


# Compression.

def decoders():
    return {"gzip": lambda b: gzip.decompress(b),
            "br": (lambda b: run_tool(["brotli", "-d", "-c"], b)) if shutil.which("brotli") else None,
            "zstd": (lambda b: run_tool(["zstd", "-d", "-c", "-q"], b)) if shutil.which("zstd") else None}


def run_tool(cmd, data):
    p = subprocess.run(cmd, input=data, capture_output=True, timeout=30)
    if p.returncode != 0:
        raise Failure("%s failed on the body: %s" % (" ".join(cmd), p.stderr.decode("utf-8", "replace").strip()))
    return p.stdout


BIG = "/users?select=id,name,bio&order=id"  # ~8 KB
SMALL_COMPRESSIBLE = "/users?select=id,name&order=id&id=lte.20"  # ~500 bytes


def compress_check(srv, target, cases):
    """cases: [(Accept-Encoding, expected coding)]. For each: the coded GET first (a miss on a
    fresh URL: the entry and its variant are made), then identity, then the coded GET again (a
    hit with the kept variant); the decompressed bodies must equal the identity body."""
    dec = decoders()
    missing = sorted({c for _, c in cases if dec[c] is None})
    if len(missing) == len({c for _, c in cases}):
        raise Skip("no decoder for %s (install the brotli and zstd packages: scripts/install-deps.sh)"
                   % ", ".join(missing))
    ident = None
    for n, (header, coding) in enumerate(cases):
        u = target + "&limit=%d" % (1000 + n)  # a fresh URL (and entry) per case, same rows
        first = get(srv.port, u, {"Accept-Encoding": header})
        ident = get(srv.port, u)
        expect_status(ident, 200)
        expect(len(ident.body) >= 1024, "the identity body has only %d bytes (test setup)" % len(ident.body))
        expect(ident.h("Content-Encoding") is None, "no Accept-Encoding: Content-Encoding %r"
               % ident.h("Content-Encoding"))
        second = get(srv.port, u, {"Accept-Encoding": header})
        for label, r in (("miss", first), ("hit", second)):
            expect_status(r, 200)
            expect(r.h("Content-Encoding") == coding, "Accept-Encoding %r (%s, %r): Content-Encoding %r, expected %r"
                   % (header, label, r.cs, r.h("Content-Encoding"), coding))
            expect("accept-encoding" in tokens(r.h("Vary")), "%s response without Vary: Accept-Encoding (%r)"
                   % (coding, r.h("Vary")))
            expect(len(r.body) < len(ident.body), "%s body (%d bytes) not smaller than identity (%d)"
                   % (coding, len(r.body), len(ident.body)))
            if dec[coding] is not None:
                plain = dec[coding](r.body)
                expect(plain == ident.body, "Accept-Encoding %r (%s): the decompressed body differs from the "
                       "identity body (%d vs %d bytes)" % (header, label, len(plain), len(ident.body)))
    return ("bodies not decoded for %s (no tool)" % ", ".join(missing)) if missing else None


def t_compress_gzip(srv):
    return compress_check(srv, BIG, [("gzip", "gzip"), ("x-gzip", "gzip")])


def t_compress_br(srv):
    return compress_check(srv, BIG, [("br", "br")])


def t_compress_zstd(srv):
    return compress_check(srv, BIG, [("zstd", "zstd")])


def t_compress_qvalues(srv):
    return compress_check(srv, BIG, [("gzip;q=0.5, br;q=0.9", "br"), ("br;q=0.1, zstd;q=0.2, gzip;q=0.3", "gzip"),
                                     ("gzip, deflate, br, zstd", "br"), ("br;q=0, gzip", "gzip"),
                                     ("zstd;q=1, gzip;q=0.9", "zstd")])


def t_compress_identity_q0(srv):
    # identity is the fallback for a client that names no coding we have.
    r = get(srv.port, BIG, {"Accept-Encoding": "deflate"})
    expect_status(r, 200)
    expect(r.h("Content-Encoding") is None, "Accept-Encoding: deflate: Content-Encoding %r" % r.h("Content-Encoding"))
    json.loads(r.body)


def check_coded(r, coding, label):
    expect_status(r, 200)
    if coding == "gzip":
        expect(r.h("Content-Encoding") == "gzip" and r.body[:2] == b"\x1f\x8b",
               "%s: gzip client got Content-Encoding %r, body starting %r" % (label, r.h("Content-Encoding"),
                                                                               r.body[:8]))
        return json.loads(gzip.decompress(r.body))
    expect(r.h("Content-Encoding") is None and r.body[:1] == b"[",
           "%s: identity client got Content-Encoding %r, body starting %r" % (label, r.h("Content-Encoding"),
                                                                               r.body[:8]))
    return json.loads(r.body)


def t_compress_alternate(srv):
    # Sequential alternation on fresh URLs, starting with either client.
    for first in ("gzip", "identity"):
        u = BIG + "&id=lte.%d" % (35 if first == "gzip" else 36)
        order = [first, "identity" if first == "gzip" else "gzip"] * 6
        for i, coding in enumerate(order):
            hdr = {"Accept-Encoding": "gzip"} if coding == "gzip" else {}
            check_coded(get(srv.port, u, hdr), coding, "%s #%d" % (u, i))
    # Concurrent: two gzip clients, two identity clients, and a writer changing the rows.
    problems = []
    lock = threading.Lock()
    stop = threading.Event()
    u = BIG + "&id=lte.38"

    def reader(coding):
        c = Client(srv.port)
        hdr = {"Accept-Encoding": "gzip"} if coding == "gzip" else {}
        try:
            for i in range(40):
                check_coded(c.request("GET", u, hdr), coding, "concurrent %s #%d" % (coding, i))
        except (Failure, ValueError, OSError, http.client.HTTPException) as e:
            with lock:
                problems.append(str(e))
        finally:
            c.close()

    def writer():
        c = Client(srv.port)
        n = 0
        try:
            while not stop.is_set():
                n += 1
                c.request("PATCH", "/users?id=eq.%d" % (1 + n % 5), body={"name": "alt-%d" % n})
                time.sleep(0.01)
        finally:
            c.close()

    workers = Threads()
    w = workers.start("writer", writer)
    readers = [workers.start("%s reader %d" % (c, i), reader, c)
               for i, c in enumerate(("gzip", "identity", "gzip", "identity"))]
    try:
        workers.join(60, readers)
    finally:
        stop.set()
        workers.join(10, [w])
    expect(not problems, "%d problem(s): %s" % (len(problems), "; ".join(problems[:3])))


def t_compress_small(srv):
    for u in ("/users?select=id&id=eq.1", SMALL_COMPRESSIBLE):
        ident = get(srv.port, u)
        expect(len(ident.body) < 1024, "%s is %d bytes (test setup)" % (u, len(ident.body)))
        for ae in ("gzip", "br", "zstd"):
            r = get(srv.port, u, {"Accept-Encoding": ae})
            expect_status(r, 200)
            expect(r.h("Content-Encoding") is None and r.body == ident.body,
                   "%s (%d bytes) with Accept-Encoding %s: Content-Encoding %r (threshold 1024)"
                   % (u, len(ident.body), ae, r.h("Content-Encoding")))


def t_compress_min_bytes(srv):
    ident = get(srv.port, SMALL_COMPRESSIBLE)
    expect_status(ident, 200)
    r = get(srv.port, SMALL_COMPRESSIBLE, {"Accept-Encoding": "gzip"})
    expect_status(r, 200)
    expect(r.h("Content-Encoding") == "gzip", "--compress-min-bytes 100: a %d-byte body with Accept-Encoding gzip: "
           "Content-Encoding %r" % (len(ident.body), r.h("Content-Encoding")))
    expect(gzip.decompress(r.body) == ident.body, "decompressed body differs")
    tiny = get(srv.port, "/users?select=id&id=eq.1", {"Accept-Encoding": "gzip"})
    expect(tiny.h("Content-Encoding") is None, "a %d-byte body under the threshold was compressed"
           % len(gzip.decompress(tiny.body) if tiny.h("Content-Encoding") == "gzip" else tiny.body))


# Policies.

POLICY = "*=max-age=5,s-maxage=6,swr=7,sie=8;pol=max-age=10,s-maxage=20,swr=30,sie=40;nocache=off"


def t_policy_cache_control(srv):
    _, r = miss_then_hit(srv.port, "/pol?select=id,v")
    cc = r.h("Cache-Control")
    expect(cc == "max-age=10, s-maxage=20, stale-while-revalidate=30, stale-if-error=40",
           "pol: Cache-Control %r" % cc)
    _, r = miss_then_hit(srv.port, "/users?select=id&id=eq.1")
    expect(r.h("Cache-Control") == "max-age=5, s-maxage=6, stale-while-revalidate=7, stale-if-error=8",
           "'*=max-age=5,s-maxage=6,swr=7,sie=8': users: Cache-Control %r" % r.h("Cache-Control"))


def t_policy_off(srv):
    for i in range(3):
        r = get(srv.port, "/nocache?select=id,v")
        expect_status(r, 200)
        expect_cs(r, BYPASS)
        expect(r.json() == [{"id": 1, "v": "n1"}, {"id": 2, "v": "n2"}, {"id": 3, "v": "n3"}], "body %r" % r.body)
    # The other tables are still cached.
    miss_then_hit(srv.port, "/pol?select=id&id=eq.1")


def t_cache_off(srv):
    for u in ("/users?select=id&id=eq.1", "/pol?select=id", "/orders?select=id,users(name)&id=eq.1"):
        for i in range(3):
            r = get(srv.port, u)
            expect_status(r, 200)
            expect_cs(r, BYPASS)
    r = get(srv.port, "/users?select=id&id=eq.1")
    etag = r.h("ETag")
    expect(etag is not None and ETAG_RE.fullmatch(etag), "--cache off: ETag %r" % etag)
    r = get(srv.port, "/users?select=id&id=eq.1", {"If-None-Match": etag})
    expect(r.status == 304, "--cache off: If-None-Match with the ETag: status %d" % r.status)
    w = req(srv.port, "PATCH", "/users?id=eq.1", body={"name": "off"})
    expect_status(w, 204)
    r = get(srv.port, "/users?select=name&id=eq.1")
    expect(r.json() == [{"name": "off"}], "--cache off: after PATCH %r" % r.body)


# TTL, stale-while-revalidate, stale-if-error.

def sleep_past(t0, seconds):
    left = t0 + seconds - time.monotonic()
    if left > 0:
        time.sleep(left)


def t_swr(srv):
    u = "/users?select=id,name&id=lte.3"
    t0 = time.monotonic()
    a = get(srv.port, u)
    expect_miss(a)
    b = get(srv.port, u)
    expect_hit(b)
    ttl = int(HIT_RE.fullmatch(b.cs).group(1))
    expect(ttl <= 1, "ttl=1 policy: hit says ttl=%d" % ttl)
    sleep_past(t0, 1.3)
    s = get(srv.port, u)
    expect_status(s, 200)
    expect_cs(s, STALE_RE)
    n = -int(STALE_RE.fullmatch(s.cs).group(1))
    expect(n <= 5, "stale hit ttl=-%d, beyond the 5 s stale-while-revalidate window" % n)
    expect(s.body == a.body, "the stale hit's body differs from the entry's")
    t_stale = time.monotonic()
    time.sleep(0.05)
    while True:
        f = get(srv.port, u)
        expect_status(f, 200)
        if HIT_RE.fullmatch(f.cs or ""):
            break
        expect(time.monotonic() - t_stale < 0.5, "no fresh hit within 500 ms of the stale hit (its background refresh); "
               "last Cache-Status %r" % f.cs)
        time.sleep(0.02)
    return "stale hit took %.1f ms; fresh again after %.0f ms" % (s.elapsed * 1000,
                                                                  (time.monotonic() - t_stale) * 1000)


def t_swr_write(srv):
    # An entry in its stale window is never served after a write to its table.
    u = "/orders?select=id,total&id=eq.1"
    t0 = time.monotonic()
    miss_then_hit(srv.port, u)
    sleep_past(t0, 1.3)
    w = req(srv.port, "PATCH", "/orders?id=eq.1", body={"total": 4242})
    expect_status(w, 204)
    r = get(srv.port, u)
    expect_miss(r)
    expect(r.json() == [{"id": 1, "total": 4242}], "after PATCH: %r" % r.body)


def t_ttl_no_swr(srv):
    u = "/users?select=id,name&id=lte.3"
    t0 = time.monotonic()
    miss_then_hit(srv.port, u)
    sleep_past(t0, 1.3)
    r = get(srv.port, u)
    expect_status(r, 200)
    expect((r.cs or "").startswith("hotpath; fwd=miss"), "ttl=1,swr=0 after 1.3 s: Cache-Status %r, expected a miss"
           % r.cs)


class ReadsFail:
    """Makes new SQLite reads of the server fail while held: the test process takes the WAL-index
    WRITE, CHECKPOINTER and RECOVER locks (bytes 120-122 of the -shm file, as the documented WAL
    format, https://sqlite.org/walformat.html, places them) and spoils the first copy of the
    WAL-index header. A reader then needs recovery, finds recovery running (RECOVER locked) and
    gets SQLITE_BUSY_RECOVERY, which the server's busy timeout turns into 503. On exit the header
    is written back and the locks released: the database is exactly as before."""

    def __init__(self, db):
        self.shm = db + "-shm"
        self.fd = None
        self.orig = None

    def __enter__(self):
        self.fd = os.open(self.shm, os.O_RDWR)
        fcntl.lockf(self.fd, fcntl.LOCK_EX, 3, 120)
        self.orig = os.pread(self.fd, 48, 0)
        os.pwrite(self.fd, bytes(b ^ 0xFF for b in self.orig), 0)
        return self

    def __exit__(self, *exc):
        try:
            os.pwrite(self.fd, self.orig, 0)
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN, 3, 120)
            os.close(self.fd)


def t_stale_if_error(srv):
    u = "/users?select=id,name&id=lte.3"
    t0 = time.monotonic()
    a, _ = miss_then_hit(srv.port, u)
    if not os.path.exists(srv.db + "-shm"):
        raise Skip("no %s-shm (the database is not in WAL mode): no way to make reads fail" % srv.db)
    with ReadsFail(srv.db):
        deadline = time.monotonic() + 2
        n = 0
        while True:
            n += 1
            probe = get(srv.port, "/users?select=id&id=eq.%d" % (10 + n))
            if probe.status >= 500:
                break
            if time.monotonic() > deadline:
                raise Skip("holding the WAL-index locks did not make reads fail (last probe %r)" % probe)
            time.sleep(0.02)
        sleep_past(t0, 1.3)
        r = get(srv.port, u)
        expect(r.status == 200, "database failing (a new URL gets %d), entry past its ttl inside sie=30: status %d, "
               "Cache-Status %r, body %r" % (probe.status, r.status, r.cs, r.body[:200]))
        expect_cs(r, SIE)
        expect(r.body == a.body, "stale-if-error body differs from the entry's")
    # Restored: reads work again (the entry is refreshed).
    deadline = time.monotonic() + 3
    while True:
        r = get(srv.port, u)
        if r.status == 200 and (r.cs or "").startswith("hotpath; fwd=miss"):
            break
        expect(time.monotonic() < deadline, "after restoring the database: %r" % r)
        time.sleep(0.05)
    return "reads failed with %d" % probe.status


# The byte bound.

def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def byte_bound_run(srv):
    """300 distinct ~20 KB URLs (each GET twice, then once with gzip) under --cache-max-bytes 1M,
    then the 20 oldest again; done once for both tests below."""
    if getattr(srv, "bound", None) is not None:
        return srv.bound
    c = Client(srv.port)
    pid = srv.proc.pid
    url = "/pages?select=id,body&order=id&limit=100&offset=%d"
    res = {"firsts": [], "seconds": [], "errors": []}
    try:
        c.request("GET", "/pages?select=id&limit=1")  # warm up (not one of the URLs below)
        res["base"] = res["peak"] = rss_kb(pid)
        for k in range(300):
            r = c.request("GET", url % k)
            r2 = c.request("GET", url % k)
            g = c.request("GET", url % k, {"Accept-Encoding": "gzip"})
            for x in (r, r2, g):
                if x.status != 200:
                    res["errors"].append(repr(x))
            if len(r.body) < 15000:
                res["errors"].append("offset %d: a body of %d bytes (test setup)" % (k, len(r.body)))
            res["firsts"].append((k, r.cs))
            res["seconds"].append((k, r2.cs))
            if k % 20 == 0:
                res["peak"] = max(res["peak"], rss_kb(pid))
        res["peak"] = max(res["peak"], rss_kb(pid))
        res["early"] = [(k, c.request("GET", url % k).cs) for k in range(1, 21)]
        res["health"] = req(srv.port, "GET", "/").status
    finally:
        c.close()
    srv.bound = res
    return res


def t_byte_bound_health(srv):
    res = byte_bound_run(srv)
    expect(not res["errors"], "%d bad responses: %s" % (len(res["errors"]), "; ".join(res["errors"][:3])))
    expect(res["health"] == 200 and srv.alive(), "GET / answered %s after the run" % res["health"])
    growth_mb = (res["peak"] - res["base"]) / 1024.0
    expect(growth_mb < 200, "RSS grew by %.0f MB (from %d kB to %d kB)" % (growth_mb, res["base"], res["peak"]))
    return "RSS +%.1f MB" % growth_mb


def t_byte_bound_eviction(srv):
    res = byte_bound_run(srv)
    firsts = [(k, cs) for k, cs in res["firsts"] if cs != MISS_STORED]
    if firsts:
        raise Failure("%d of 300 first GETs were not %r; first: offset %d: %r"
                      % ((len(firsts), MISS_STORED) + firsts[0]))
    seconds = [(k, cs) for k, cs in res["seconds"] if not HIT_RE.fullmatch(cs or "")]
    if seconds:
        raise Failure("%d of 300 ~20 KB responses said 'stored' but the same GET right after was not a hit "
                      "(--cache-max-bytes 1M); first: offset %d: %r" % ((len(seconds),) + seconds[0]))
    evicted = [k for k, cs in res["early"] if (cs or "").startswith("hotpath; fwd=miss")]
    expect(evicted, "none of the 20 oldest URLs was evicted after 300 x 20 KB under 1 MB: %r" % res["early"][:3])
    return "%d of the 20 oldest URLs evicted" % len(evicted)


# Concurrency: read-your-writes through the cache.

WORKERS = 6
ROUNDS = 60
SHARED = 4


def t_concurrent(srv):
    problems = []
    lock = threading.Lock()
    counter = [0]
    stats = {"reads": 0, "hits": 0, "writes": 0}

    def next_value():
        with lock:
            counter[0] += 1
            return counter[0]

    def worker(index):
        c = Client(srv.port)
        private = 10 + index
        mine = []  # event ids inserted and not deleted
        reads = hits = writes = 0

        def read(target):
            nonlocal reads, hits
            r = c.request("GET", target)
            if r.status != 200:
                raise Failure("%r: %r" % (r, r.body[:200]))
            reads += 1
            if HIT_RE.fullmatch(r.cs or "") or (r.cs or "").startswith("hotpath; hit"):
                hits += 1
            return r

        def stale(msg):
            with lock:
                problems.append("client %d: %s" % (index, msg))

        try:
            for rnd in range(ROUNDS):
                op = rnd % 3
                v = next_value()
                if op == 0:
                    row = private if rnd % 2 == 0 else 1 + rnd % SHARED
                    w = c.request("PATCH", "/counters?id=eq.%d&value=lt.%d" % (row, v), body={"value": v})
                    if w.status != 204:
                        raise Failure("PATCH: %r %r" % (w, w.body[:200]))
                    writes += 1
                    for _ in range(2):
                        seen = read("/counters?id=eq.%d&select=value" % row).json()[0]["value"]
                        if seen < v or (row == private and seen != v):
                            stale("row %d: wrote %d, then read %d" % (row, v, seen))
                        rows = read("/counters?select=id,value&order=id&id=lte.%d" % (10 + WORKERS)).json()
                        seen = {x["id"]: x["value"] for x in rows}[row]
                        if seen < v:
                            stale("row %d in the table read: wrote %d, then read %d" % (row, v, seen))
                elif op == 1:
                    w = c.request("POST", "/events", body={"id": v, "worker": index})
                    if w.status != 201:
                        raise Failure("POST: %r %r" % (w, w.body[:200]))
                    writes += 1
                    mine.append(v)
                    for _ in range(2):
                        ids = [x["id"] for x in read("/events?worker=eq.%d&select=id&order=id" % index).json()]
                        if ids != mine:
                            stale("own events: expected %r, read %r" % (mine, ids))
                        top = read("/events?select=id&order=id.desc&limit=1").json()
                        if not top or top[0]["id"] < v:
                            stale("inserted event %d, then the newest event read is %r" % (v, top))
                else:
                    if mine:
                        gone = mine.pop(0)
                        w = c.request("DELETE", "/events?id=eq.%d" % gone)
                        if w.status != 204:
                            raise Failure("DELETE: %r %r" % (w, w.body[:200]))
                        writes += 1
                        for _ in range(2):
                            ids = [x["id"] for x in read("/events?worker=eq.%d&select=id&order=id" % index).json()]
                            if gone in ids or ids != mine:
                                stale("deleted event %d, expected %r, read %r" % (gone, mine, ids))
                    for _ in range(2):
                        read("/counters?select=id,value&order=id&id=lte.%d" % (10 + WORKERS))
        except Exception as e:  # noqa: BLE001 - reported as a failure
            with lock:
                problems.append("client %d: %s: %s" % (index, type(e).__name__, e))
        finally:
            c.close()
            with lock:
                stats["reads"] += reads
                stats["hits"] += hits
                stats["writes"] += writes

    workers = Threads()
    for i in range(WORKERS):
        workers.start("client %d" % i, worker, i)
    workers.join(60)
    expect(not problems, "%d problem(s) (%d writes, %d reads, %d hits): %s"
           % (len(problems), stats["writes"], stats["reads"], stats["hits"], " | ".join(problems[:8])))
    expect(stats["hits"] > 0, "no read was a cache hit (%d reads): the test checked nothing about the cache"
           % stats["reads"])
    return "%d writes, %d reads, %d of them hits, 0 stale" % (stats["writes"], stats["reads"], stats["hits"])


# Server-Timing, over every response of the run.

def t_server_timing_reads():
    bad = []
    checked = collapsed = 0
    with TIMING_LOCK:
        log = list(TIMING_LOG)
    for method, target, status, cs, st in log:
        if method not in ("GET", "HEAD") or target == "/":
            continue
        checked += 1
        st_ = st or ""
        if not re.search(r"(^|,)\s*cache;dur=[0-9.]+", st_):
            bad.append("%s %s (%d, %r): Server-Timing %r has no cache;dur=" % (method, target, status, cs, st))
        elif (status in (200, 206) and (cs or "").startswith("hotpath; fwd=miss")
              and not re.search(r"(^|,)\s*db;dur=[0-9.]+", st_)):
            if "collapsed" in cs:  # waited on another request's query: none of its own (reported, not failed)
                collapsed += 1
                continue
            bad.append("%s %s (%d, %r): a miss without db;dur= in Server-Timing %r" % (method, target, status, cs, st))
    expect(not bad, "%d of %d GET/HEAD responses: %s" % (len(bad), checked, " | ".join(bad[:4])))
    return "%d responses%s" % (checked, "; %d collapsed misses without db;dur" % collapsed if collapsed else "")


# --- running -----------------------------------------------------------------------------------

GROUPS = [
    ("default", [], [
        ("miss then hit", t_miss_then_hit),
        ("query parameter order shares an entry", t_param_order),
        ("Accept: JSON, CSV, object are separate entries", t_accept_variants),
        ("Prefer: count=exact is a separate entry", t_prefer_count),
        ("Range is a separate entry", t_range),
        ("HEAD answered from the GET entry", t_head),
        ("ETag and Last-Modified", t_validators),
        ("If-None-Match", t_if_none_match),
        ("If-None-Match with a list of tags", t_if_none_match_list),
        ("If-Modified-Since", t_if_modified_since),
        ("If-Modified-Since never confirms a copy older than a write", t_if_modified_since_after_write),
        ("Vary and default Cache-Control", t_vary_cache_control),
        ("error responses are not cached", t_errors_not_cached),
        ("PATCH then GET", t_write_patch),
        ("POST then GET", t_write_post),
        ("DELETE then GET", t_write_delete),
        ("writes invalidate entries that embed the table", t_write_embedded),
        ("external write visible within %d ms" % EXTERNAL_BOUND_MS, t_external_write),
        ("compression: gzip", t_compress_gzip),
        ("compression: br", t_compress_br),
        ("compression: zstd", t_compress_zstd),
        ("compression: q-values choose the coding", t_compress_qvalues),
        ("compression: no known coding gets identity", t_compress_identity_q0),
        ("compression: gzip and identity clients alternating", t_compress_alternate),
        ("compression: bodies under 1024 bytes stay identity", t_compress_small),
    ]),
    ("concurrent", ["--server-threads", "3", "--db-pool", "2"], [
        ("read-your-writes through the cache under concurrency", t_concurrent),
    ]),
    ("policy", ["--cache-policy", POLICY], [
        ("Cache-Control from --cache-policy", t_policy_cache_control),
        ("a table with 'off' bypasses the cache", t_policy_off),
    ]),
    ("cache-off", ["--cache", "off"], [
        ("--cache off bypasses every table", t_cache_off),
    ]),
    ("min-bytes", ["--compress-min-bytes", "100"], [
        ("--compress-min-bytes 100", t_compress_min_bytes),
    ]),
    ("swr", ["--cache-policy", "*=ttl=1,swr=5"], [
        ("stale-while-revalidate", t_swr),
        ("no stale hit after a write", t_swr_write),
    ]),
    ("ttl", ["--cache-policy", "*=ttl=1,swr=0"], [
        ("ttl expiry without swr is a miss", t_ttl_no_swr),
    ]),
    ("sie", ["--cache-policy", "*=ttl=1,swr=0,sie=30", "--db-busy-timeout-ms", "100"], [
        ("stale-if-error", t_stale_if_error),
    ]),
    ("bytes", ["--cache-max-bytes", "1M"], [
        ("byte bound: the server stays healthy, RSS bounded", t_byte_bound_health),
        ("byte bound: entries are stored, the oldest evicted", t_byte_bound_eviction),
    ]),
]


class Totals:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0


def report(totals, name, outcome, detail=None, extra=()):
    if outcome == "ok":
        totals.passed += 1
        print("ok   %s%s" % (name, (" (%s)" % detail) if detail else ""))
    elif outcome == "skip":
        totals.skipped += 1
        print("skip %s: %s" % (name, detail))
    else:
        totals.failed += 1
        print("FAIL %s: %s" % (name, detail))
        for line in extra:
            print("    " + line)
    sys.stdout.flush()


def run_test(totals, name, fn, *args):
    start = time.monotonic()
    try:
        info = fn(*args)
    except Skip as e:
        report(totals, name, "skip", str(e))
        return
    except Failure as e:
        report(totals, name, "fail", str(e))
        return
    except (OSError, http.client.HTTPException, ValueError, KeyError, IndexError, TypeError,
            subprocess.SubprocessError) as e:
        report(totals, name, "fail", "%s: %s" % (type(e).__name__, e))
        return
    took = time.monotonic() - start
    report(totals, name, "ok", "; ".join(x for x in (info, "%.1f s" % took if took >= 1 else None) if x))


def run_group(binary, tmp, sql, label, args, tests, totals, shutdown_problems):
    d = os.path.join(tmp, label)
    os.mkdir(d)
    db = os.path.join(d, "cache.db")
    mk = subprocess.run(["sqlite3", "-bail", db], input=sql, text=True, capture_output=True, timeout=60)
    if mk.returncode != 0:
        for name, _ in tests:
            report(totals, name, "fail", "building the database failed: %s" % mk.stderr.strip())
        return
    srv = Server(binary, db, args, os.path.join(d, "server.log"))
    srv.db = db
    reason = srv.start()
    srv.started = time.monotonic()
    if reason is not None:
        for name, _ in tests:
            report(totals, name, "fail", "[%s %s] %s" % (label, " ".join(args), reason), srv.log_tail(5))
        srv.kill()
        return
    try:
        for name, fn in tests:
            if not srv.alive():
                report(totals, name, "fail", "server died (status %s)" % srv.proc.returncode, srv.log_tail(10))
                continue
            run_test(totals, name, fn, srv)
    finally:
        reason = srv.stop()
        if reason is not None:
            shutdown_problems.append("%s: %s" % (label, reason))
        srv.kill()


def main(argv):
    if len(argv) != 2:
        print("usage: run.py BIN", file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    if not os.access(binary, os.X_OK):
        print("run.py: %s is not an executable" % binary, file=sys.stderr)
        return 2
    if shutil.which("sqlite3") is None:
        print("run.py: the sqlite3 CLI is needed to build the databases", file=sys.stderr)
        return 2
    totals = Totals()
    shutdown_problems = []
    tmp = tempfile.mkdtemp(prefix="hotpath-cache-")
    sql = schema_sql()
    try:
        for label, args, tests in GROUPS:
            run_group(binary, tmp, sql, label, args, tests, totals, shutdown_problems)
        run_test(totals, "Server-Timing on every GET/HEAD (cache;dur, db;dur on misses)", t_server_timing_reads)
        if shutdown_problems:
            report(totals, "graceful shutdown (SIGTERM, exit 0)", "fail", "; ".join(shutdown_problems))
        else:
            report(totals, "graceful shutdown (SIGTERM, exit 0)", "ok", "%d servers" % len(GROUPS))
    finally:
        if os.environ.get("HP_CACHE_KEEP") == "1":
            print("kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (totals.passed, totals.failed, totals.skipped))
    return 1 if totals.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
