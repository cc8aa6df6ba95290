#!/usr/bin/env python3
"""
Request ids and the access log (--log-access, --log-access-file), end to end, against real
servers on a real SQLite file.

Usage: run.py BIN

Checks:
 - JSON lines: every line is one JSON object with the documented keys and types; the lines
   match the requests made (method, path, status, bytes, cache word, user agent);
 - X-Request-Id: made when the client sent none (and differently each time), the client's
   kept when sane, replaced when empty of sense (a space, too long); on every response
   (API 200, 304, 404, 405, and the admin listener's), and the log line carries the same id;
 - traceparent: a valid one is logged as sent, an invalid one is logged as null;
 - combined format (to stderr, "-"): the Apache combined fields, then rid, dur_us, cache and
   traceparent, with quotes in the user agent escaped;
 - shutdown: a request answered right before SIGTERM is in the file after the exit;
 - concurrency: a few hundred concurrent requests on two loops leave exactly one whole line
   each, to a file and through a pipe (a FIFO the test reads);
 - with the log off, ids are still echoed and no file is made; a log file that cannot be
   opened stops the server at start with a message naming log-access-file.
Prints one `ok`/`FAIL` line per test, then `N passed, N failed`; exit status 1 on a failure.
Python 3 standard library only; reuses the spec runner's Server.
"""
import concurrent.futures
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec"))
from run import Server, http_request  # noqa: E402  (the spec runner's helpers)

SCHEMA = """
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO items VALUES (1, 'one'), (2, 'two');
"""
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
JSON_KEYS = {"ts": str, "request_id": str, "remote_addr": str, "method": str, "path": str,
             "protocol": str, "status": int, "bytes": int, "duration_us": int,
             "cache": (str, type(None)), "traceparent": (str, type(None)),
             "user_agent": (str, type(None))}
MADE_ID_RE = re.compile(r"^[0-9a-f]{12}-[0-9a-f]{1,16}$")
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
COMBINED_RE = re.compile(
    r'^(?P<addr>\S+) - - \[(?P<time>\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000)\] '
    r'"(?P<method>\S+) (?P<path>\S+) (?P<proto>HTTP/[0-9.]+)" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"(?P<referer>(?:[^"\\]|\\.)*)" "(?P<ua>(?:[^"\\]|\\.)*)" '
    r'rid="(?P<rid>(?:[^"\\]|\\.)*)" dur_us=(?P<dur>\d+) cache=(?P<cache>\S+) '
    r'traceparent=(?P<tp>\S+)$')
CONCURRENT = 400
SETTLE_S = 5.0


def header(headers, name):
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def read_lines(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8").splitlines()
    except FileNotFoundError:
        return []


def wait_for_lines(path, count):
    """The file's lines once it has `count` of them (the loops write every 10 ms)."""
    deadline = time.monotonic() + SETTLE_S
    lines = read_lines(path)
    while len(lines) < count and time.monotonic() < deadline:
        time.sleep(0.02)
        lines = read_lines(path)
    return lines


class Suite:
    def __init__(self, binary, tmp):
        self.binary = binary
        self.tmp = tmp
        self.db = os.path.join(tmp, "a.db")
        self.results = []

    def check(self, name, problems):
        self.results.append("FAIL" if problems else "ok")
        print(("FAIL %s" % name) if problems else ("ok   %s" % name))
        for p in problems[:10]:
            print("    " + p)

    def server(self, name, args):
        s = Server(self.binary, self.db, ["--server-threads", "2"] + args,
                   os.path.join(self.tmp, name + ".server.log"))
        reason = s.start()
        if reason is not None:
            raise RuntimeError("%s server: %s\n%s" % (name, reason, "\n".join(s.log_tail())))
        return s

    # --- JSON lines -------------------------------------------------------------------------

    def json_lines(self):
        log = os.path.join(self.tmp, "json.log")
        s = self.server("json", ["--log-access", "json", "--log-access-file", log])
        sent = []  # (request id echoed, what the line must say)
        problems = []
        try:
            # The server's start-up probe (GET /) is a request too.
            start_lines = len(wait_for_lines(log, 1))
            ua = 'tester/1.0 "quoted" \\ caf\u00e9'
            cases = [
                ("GET", "/items", [("User-Agent", ua)], 200, "miss"),
                ("GET", "/items", [("X-Request-Id", "client-id-1")], 200, "hit"),
                ("GET", "/items?id=eq.1", [("X-Request-Id", "has space")], 200, "miss"),
                ("GET", "/items?id=eq.2", [("X-Request-Id", "x" * 129)], 200, "miss"),
                ("GET", "/items", [("traceparent", TRACEPARENT)], 200, "hit"),
                ("GET", "/items", [("traceparent", TRACEPARENT.upper())], 200, "hit"),
                ("GET", "/no_such_table", [], 404, "miss"),  # errors say fwd=miss
                ("PUT", "/items", [], 405, "miss"),
                ("POST", "/items", [("Prefer", "return=representation")], 201, "method"),
            ]
            etags = {}
            for method, target, hdrs, want, cache in cases:
                body = json.dumps({"id": 3, "name": "three"}).encode() if method == "POST" else None
                status, headers, _ = http_request(s.port, method, target, headers=hdrs, body=body)
                rid = header(headers, "x-request-id")
                etags.setdefault(target, header(headers, "etag"))
                if status != want:
                    problems.append("%s %s answered %d, expected %d" % (method, target, status, want))
                sent.append((rid, method, target, status, cache, dict((k.lower(), v) for k, v in hdrs)))
            # The POST made the cached answer stale: queried again, same body, same ETag.
            status, headers, _ = http_request(s.port, "GET", "/items?id=eq.1",
                                              headers=[("If-None-Match", etags["/items?id=eq.1"] or '""')])
            sent.append((header(headers, "x-request-id"), "GET", "/items?id=eq.1", status, "miss", {}))
            if status != 304:
                problems.append("conditional GET answered %d, expected 304" % status)
            status, headers, _ = http_request(s.admin_port, "GET", "/live",
                                              headers=[("X-Request-Id", "admin-probe")])
            admin_rid = header(headers, "x-request-id")
        finally:
            reason = s.stop()
        if reason is not None:
            problems.append(reason)
        lines = read_lines(log)[start_lines:]
        self.check("json: one line per API request (admin requests are not logged)",
                   problems + ([] if len(lines) == len(sent) else
                               ["%d lines for %d requests" % (len(lines), len(sent))]))

        problems = []
        parsed = []
        for line in lines:
            try:
                obj = json.loads(line)
            except ValueError as e:
                problems.append("not JSON (%s): %r" % (e, line))
                continue
            parsed.append(obj)
            if set(obj) != set(JSON_KEYS):
                problems.append("keys %r" % sorted(obj))
                continue
            for k, t in JSON_KEYS.items():
                if not isinstance(obj[k], t):
                    problems.append("%s is %r" % (k, obj[k]))
            if not TS_RE.match(obj["ts"]) or obj["remote_addr"] != "127.0.0.1" or \
                    obj["protocol"] != "HTTP/1.1" or obj["duration_us"] < 0:
                problems.append("ts/remote_addr/protocol/duration in %r" % line)
        self.check("json: lines parse, with the documented keys and types", problems)

        problems = []
        by_id = dict((o.get("request_id"), o) for o in parsed)
        for rid, method, target, status, cache, hdrs in sent:
            o = by_id.get(rid)
            if o is None:
                problems.append("no line with the id %r echoed for %s %s" % (rid, method, target))
                continue
            want = {"method": method, "path": target, "status": status, "cache": cache}
            got = dict((k, o[k]) for k in want)
            if got != want:
                problems.append("line %r, expected %r" % (got, want))
            if status in (200, 201, 404) and o["bytes"] <= 0:
                problems.append("%s %s: bytes %r" % (method, target, o["bytes"]))
        ua_line = by_id.get(sent[0][0], {})
        if ua_line.get("user_agent") != 'tester/1.0 "quoted" \\ caf\u00c3\u00a9':
            # Bytes beyond ASCII are escaped one by one (\u00XX), so the line stays valid JSON.
            problems.append("user_agent %r" % ua_line.get("user_agent"))
        self.check("json: each line matches its request (method, path, status, bytes, cache, "
                   "user agent)", problems)

        problems = []
        ids = [rid for rid, *_ in sent]
        if None in ids:
            problems.append("a response without X-Request-Id: %r" % ids)
        else:
            made = [ids[i] for i in (0, 2, 3, 4, 5, 6, 7, 8, 9)]
            for rid in made:
                if not MADE_ID_RE.match(rid):
                    problems.append("made id %r is not prefix-counter hex" % rid)
            if len(set(made)) != len(made):
                problems.append("made ids repeat: %r" % made)
            if ids[1] != "client-id-1":
                problems.append("client id replaced by %r" % ids[1])
            if ids[2] == "has space" or ids[3] == "x" * 129:
                problems.append("a bad client id was kept: %r / %r" % (ids[2], ids[3]))
        if admin_rid != "admin-probe":
            problems.append("admin /live echoed X-Request-Id %r" % admin_rid)
        self.check("request ids: made, kept, replaced, echoed on 200/201/304/404/405 and admin",
                   problems)

        problems = []
        tp_good, tp_bad = by_id.get(ids[4], {}), by_id.get(ids[5], {})
        if tp_good.get("traceparent") != TRACEPARENT:
            problems.append("valid traceparent logged as %r" % tp_good.get("traceparent"))
        if tp_bad.get("traceparent") is not None:
            problems.append("invalid traceparent logged as %r" % tp_bad.get("traceparent"))
        if by_id.get(ids[0], {}).get("traceparent", "") is not None:
            problems.append("absent traceparent not null")
        self.check("traceparent: valid ones logged, invalid ones not", problems)

    # --- combined, to stderr ------------------------------------------------------------------

    def combined(self):
        s = self.server("combined", ["--log-access", "combined", "--log-access-file", "-"])
        problems = []
        try:
            ua = 'agent "with quotes"'
            status, headers, _ = http_request(s.port, "GET", "/items?select=id",
                                              headers=[("User-Agent", ua), ("Referer", "http://r/"),
                                                       ("traceparent", TRACEPARENT)])
            rid = header(headers, "x-request-id")
            status2, headers2, _ = http_request(s.port, "GET", "/nope")
            rid2 = header(headers2, "x-request-id")
        finally:
            reason = s.stop()
        if reason is not None:
            problems.append(reason)
        with open(s.log_path, errors="replace") as f:
            text = f.read()
        lines = [l for l in text.splitlines() if 'rid="' in l]
        matches = [COMBINED_RE.match(l) for l in lines]
        for l, m in zip(lines, matches):
            if m is None:
                problems.append("not the combined shape: %r" % l)
        got = dict((m.group("rid"), m) for m in matches if m is not None)
        m = got.get(rid)
        if m is None:
            problems.append("no line for request id %r in %r" % (rid, lines))
        else:
            want = {"addr": "127.0.0.1", "method": "GET", "path": "/items?select=id",
                    "proto": "HTTP/1.1", "status": str(status), "referer": "http://r/",
                    "ua": 'agent \\"with quotes\\"', "cache": "miss", "tp": TRACEPARENT}
            have = dict((k, m.group(k)) for k in want)
            if have != want:
                problems.append("fields %r, expected %r" % (have, want))
            if m.group("bytes") == "-" or int(m.group("bytes")) <= 0:
                problems.append("bytes %r" % m.group("bytes"))
        m2 = got.get(rid2)
        if m2 is None or m2.group("status") != "404" or m2.group("tp") != "-" or \
                m2.group("referer") != "-" or status2 != 404:
            problems.append("404 line %r" % (m2.group(0) if m2 else None))
        self.check("combined (stderr): Apache combined fields, then rid, dur_us, cache, "
                   "traceparent", problems)

    # --- shutdown, concurrency ---------------------------------------------------------------

    def shutdown_flush(self):
        log = os.path.join(self.tmp, "shutdown.log")
        s = self.server("shutdown", ["--log-access", "json", "--log-access-file", log])
        problems = []
        _, headers, _ = http_request(s.port, "GET", "/items", headers=[("X-Request-Id", "last-one")])
        reason = s.stop()  # at once: well within the loops' 10 ms flush tick, most of the time
        if reason is not None:
            problems.append(reason)
        ids = [json.loads(l)["request_id"] for l in read_lines(log)]
        if "last-one" not in ids:
            problems.append("the request answered before SIGTERM has no line: %r" % ids)
        self.check("shutdown: buffered lines are written before exit", problems)

    def hammer(self, port):
        """CONCURRENT requests, 50 at a time; the ids echoed."""
        def one(i):
            target = "/items?id=eq.%d" % (i % 3) if i % 4 else "/no_such_table"
            _, headers, _ = http_request(port, "GET", target, headers=[("X-Request-Id", "c-%d" % i)])
            return header(headers, "x-request-id")
        with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
            return list(pool.map(one, range(CONCURRENT)))

    def concurrent_to_file(self):
        log = os.path.join(self.tmp, "concurrent.log")
        s = self.server("concurrent", ["--log-access", "json", "--log-access-file", log])
        try:
            before = len(wait_for_lines(log, 1))
            echoed = self.hammer(s.port)
        finally:
            reason = s.stop()
        self.check_hammer("concurrency: %d concurrent requests, one whole line each (file)"
                          % CONCURRENT, read_lines(log)[before:], echoed, reason)

    def concurrent_to_pipe(self):
        fifo = os.path.join(self.tmp, "access.fifo")
        os.mkfifo(fifo)
        # A reader first: the server opens the FIFO without blocking, which needs one.
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        chunks, stop = [], threading.Event()

        def drain():
            while True:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    if stop.is_set():
                        return
                    time.sleep(0.005)
                    continue
                if data:
                    chunks.append(data)
                elif stop.is_set():
                    return
                else:
                    time.sleep(0.005)
        reader = threading.Thread(target=drain)
        reader.start()
        try:
            s = self.server("pipe", ["--log-access", "json", "--log-access-file", fifo])
            try:
                echoed = self.hammer(s.port)
            finally:
                reason = s.stop()
        finally:
            stop.set()
            reader.join(timeout=10)
            os.close(fd)
        lines = b"".join(chunks).decode("utf-8").splitlines()
        lines = [l for l in lines if json.loads(l)["path"] != "/"]  # the start-up probes
        self.check_hammer("concurrency: %d concurrent requests, one whole line each (pipe)"
                          % CONCURRENT, lines, echoed, reason)

    def check_hammer(self, name, lines, echoed, reason):
        problems = [reason] if reason is not None else []
        if echoed != ["c-%d" % i for i in range(CONCURRENT)]:
            problems.append("ids echoed out of order or replaced")
        try:
            ids = sorted(json.loads(l)["request_id"] for l in lines)
        except ValueError as e:
            ids = []
            problems.append("a torn line: %s" % e)
        if len(lines) != CONCURRENT:
            problems.append("%d lines for %d requests" % (len(lines), CONCURRENT))
        if ids != sorted("c-%d" % i for i in range(CONCURRENT)):
            problems.append("the ids logged are not the ids sent, each once")
        self.check(name, problems)

    # --- off, and a file that cannot be opened ------------------------------------------------

    def off_and_bad_file(self):
        problems = []
        s = self.server("off", [])
        try:
            a = header(http_request(s.port, "GET", "/items")[1], "x-request-id")
            b = header(http_request(s.port, "GET", "/nope")[1], "x-request-id")
        finally:
            reason = s.stop()
        if reason is not None:
            problems.append(reason)
        if not (a and b and MADE_ID_RE.match(a) and MADE_ID_RE.match(b) and a != b):
            problems.append("with the log off, ids %r and %r" % (a, b))
        with open(s.log_path, errors="replace") as f:
            if 'rid="' in f.read():
                problems.append("log-access off, yet lines on stderr")
        bad = os.path.join(self.tmp, "no", "such", "dir", "access.log")
        r = subprocess.run([self.binary, "serve", "--db-uri", self.db, "--server-port", "1",
                            "--log-access", "json", "--log-access-file", bad],
                           capture_output=True, text=True, timeout=30)
        if r.returncode == 0 or "log-access-file" not in r.stderr:
            problems.append("an unopenable log file: exit %d, %r" % (r.returncode, r.stderr))
        self.check("log off: ids still echoed; an unopenable file stops the start", problems)


def main(argv):
    if len(argv) != 2:
        print("usage: run.py BIN", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="hotpath-accesslog-")
    suite = Suite(os.path.abspath(argv[1]), tmp)
    try:
        subprocess.run(["sqlite3", suite.db], input=SCHEMA, text=True, check=True, timeout=30)
        for test in (suite.json_lines, suite.combined, suite.shutdown_flush,
                     suite.concurrent_to_file, suite.concurrent_to_pipe, suite.off_and_bad_file):
            try:
                test()
            except Exception as e:  # a broken test is one failure, the others still run
                suite.check(test.__name__, ["%s: %s" % (type(e).__name__, e)])
    finally:
        if not os.environ.get("HP_ACCESSLOG_KEEP"):
            shutil.rmtree(tmp, ignore_errors=True)
    passed = suite.results.count("ok")
    failed = suite.results.count("FAIL")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
