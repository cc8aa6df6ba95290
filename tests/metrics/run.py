#!/usr/bin/env python3
"""
The admin listener (--admin-server-port) and its metrics, end to end, against a real server on
a real SQLite file.

Usage: run.py BIN

Starts `BIN serve` with two loop threads (so the scrape sums several slots) and an admin port,
makes a known set of API requests (GET 200 miss, GET 200 cache hit, GET 304, GET 404 on an
unknown table, POST 201, PUT 405), then checks:
 - GET /live is 200 {"status":"ok"}, GET /ready is 200, anything else on the admin port is
   404, and the API port does not serve /metrics;
 - /metrics is text/plain; version=0.0.4, every family has # HELP and # TYPE, the histogram's
   buckets are cumulative and its +Inf bucket equals _count;
 - the request counters moved by exactly the requests made (by method and status class, 304
   exactly), nothing is left in flight, database statements and cache hits moved;
 - `promtool check metrics` accepts the text (skipped, with the reason, without promtool).
Prints one `ok`/`FAIL`/`skip` line per test, then `N passed, N failed`; exit status 1 on a
failure. Python 3 standard library only. HP_SERVER_ARGS adds arguments to `serve`.
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec"))
from run import Server, http_request  # noqa: E402  (the spec runner's helpers)

SCHEMA = """
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO items VALUES (1, 'one'), (2, 'two');
"""
SETTLE_S = 5.0  # a request is counted when h2o disposes it, just after its response is sent

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def parse(text):
    """{(name, labels): value} and {family: type}, and a list of format problems."""
    samples, types, helps, problems = {}, {}, set(), []
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split(" ")[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            types[name] = kind
        elif line:
            m = SAMPLE_RE.match(line)
            if m is None:
                problems.append("unparsable line %r" % line)
                continue
            samples[(m.group(1), m.group(2) or "")] = float(m.group(3))
    for name in types:
        if name not in helps:
            problems.append("%s has # TYPE but no # HELP" % name)
    for name, _ in samples:
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in types else name
        if family not in types:
            problems.append("%s has no # TYPE" % name)
    return samples, types, problems


def requests_total(samples, method, code):
    return samples.get(("hotpath_http_requests_total", '{method="%s",code="%s"}' % (method, code)), 0)


def main(argv):
    if len(argv) != 2:
        print("usage: run.py BIN", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="hotpath-metrics-")
    results = []  # (status word, name, detail)

    def check(name, problems):
        results.append(("FAIL" if problems else "ok", name, problems))
        print(("FAIL %s" % name) if problems else ("ok   %s" % name))
        for p in problems[:10]:
            print("    " + p)

    try:
        db = os.path.join(tmp, "m.db")
        subprocess.run(["sqlite3", db], input=SCHEMA, text=True, check=True, timeout=30)
        extra = os.environ.get("HP_SERVER_ARGS", "").split()
        # The spec runner's Server gives every server a free --admin-server-port of its own.
        server = Server(os.path.abspath(argv[1]), db, ["--server-threads", "2"] + extra,
                        os.path.join(tmp, "server.log"))
        reason = server.start()
        if reason is not None:
            print("FAIL server: %s" % reason)
            with open(os.path.join(tmp, "server.log"), errors="replace") as f:
                print(f.read()[-2000:])
            print("0 passed, 1 failed")
            return 1
        api = server.port
        admin_port = server.admin_port

        def admin(target, method="GET"):
            return http_request(admin_port, method, target)

        def scrape():
            status, headers, body = admin("/metrics")
            return status, dict((k.lower(), v) for k, v in headers), body.decode("utf-8")

        try:
            # Probes.
            problems = []
            status, _, body = admin("/live")
            if status != 200 or json.loads(body) != {"status": "ok"}:
                problems.append("/live answered %d %r" % (status, body))
            status, _, body = admin("/ready")
            if status != 200 or json.loads(body) != {"status": "ok"}:
                problems.append("/ready answered %d %r" % (status, body))
            for target in ("/nope", "/items", "/"):
                status, _, _ = admin(target)
                if status != 404:
                    problems.append("admin %s answered %d, expected 404" % (target, status))
            status, _, _ = admin("/live", "POST")
            if status != 405:
                problems.append("admin POST /live answered %d, expected 405" % status)
            status, _, body = http_request(api, "GET", "/metrics")
            if status != 404 or b"hotpath_http" in body:
                problems.append("the API port answered /metrics with %d" % status)
            check("probes", problems)

            # The requests to count, from a baseline taken after start-up (whose polling of
            # GET / is counted too).
            deadline = time.monotonic() + SETTLE_S
            while True:
                # Until the probes' own API request has been disposed: a scrape is no snapshot
                # (it reads the request counters, then in-flight, then the histogram), so also
                # wait for the counters to agree with the histogram's count.
                before_status, _, before_text = scrape()
                before, _, _ = parse(before_text)
                counted = sum(v for k, v in before.items() if k[0] == "hotpath_http_requests_total")
                if (before.get(("hotpath_http_requests_in_flight", "")) == 0 and
                        before.get(("hotpath_http_request_duration_seconds_count", "")) == counted) or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            problems = []
            expect = [("GET", 200), ("GET", 200)]
            status, headers, _ = http_request(api, "GET", "/items")
            etag = dict((k.lower(), v) for k, v in headers).get("etag")
            if status != 200 or etag is None:
                problems.append("GET /items answered %d with ETag %r" % (status, etag))
            status, headers, _ = http_request(api, "GET", "/items")
            cache_status = dict((k.lower(), v) for k, v in headers).get("cache-status", "")
            if status != 200 or "hit" not in cache_status:
                problems.append("second GET /items: %d, Cache-Status %r" % (status, cache_status))
            made = [("GET", "/items", (("If-None-Match", etag or '""'),), None, 304),
                    ("GET", "/no_such_table", (), None, 404),
                    ("POST", "/items", (), json.dumps({"id": 3, "name": "three"}).encode(), 201),
                    ("PUT", "/items", (), b"{}", 405)]
            for method, target, hdrs, body, want in made:
                status, _, _ = http_request(api, method, target, headers=hdrs, body=body)
                if status != want:
                    problems.append("%s %s answered %d, expected %d" % (method, target, status, want))
            check("requests", problems)
            expect += [(m, w) for m, _, _, _, w in made]

            want_delta = {}
            for method, code in expect:
                label = method if method in ("GET", "POST", "PATCH", "DELETE") else "other"
                key = (label, "%dxx" % (code // 100))
                want_delta[key] = want_delta.get(key, 0) + 1

            # Counters, once every request above has been disposed.
            deadline = time.monotonic() + SETTLE_S
            while True:
                status, headers, text = scrape()
                after, types, format_problems = parse(text)
                problems = []
                for method in ("GET", "POST", "PATCH", "DELETE", "other"):
                    for code in ("2xx", "3xx", "4xx", "5xx", "other"):
                        got = requests_total(after, method, code) - requests_total(before, method, code)
                        if got != want_delta.get((method, code), 0):
                            problems.append("requests_total{method=%s,code=%s} moved by %g, expected %d"
                                            % (method, code, got, want_delta.get((method, code), 0)))
                nm = after.get(("hotpath_http_not_modified_total", ""), 0) - \
                    before.get(("hotpath_http_not_modified_total", ""), 0)
                if nm != 1:
                    problems.append("not_modified_total moved by %g, expected 1" % nm)
                inflight = after.get(("hotpath_http_requests_in_flight", ""))
                if inflight != 0:
                    problems.append("requests_in_flight is %r, expected 0" % inflight)
                if not problems or time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            check("request counters", problems)

            problems = list(format_problems)
            if before_status != 200 or status != 200:
                problems.append("/metrics answered %d then %d" % (before_status, status))
            ctype = headers.get("content-type", "")
            if not ctype.startswith("text/plain; version=0.0.4"):
                problems.append("/metrics content-type %r" % ctype)
            for family, kind in (("hotpath_http_requests_total", "counter"),
                                 ("hotpath_http_not_modified_total", "counter"),
                                 ("hotpath_http_requests_in_flight", "gauge"),
                                 ("hotpath_http_request_duration_seconds", "histogram"),
                                 ("hotpath_db_statements_total", "counter"),
                                 ("hotpath_cache_hits_total", "counter"),
                                 ("hotpath_cache_stale_hits_total", "counter"),
                                 ("hotpath_cache_misses_total", "counter"),
                                 ("hotpath_cache_waits_total", "counter"),
                                 ("hotpath_cache_evictions_total", "counter"),
                                 ("hotpath_cache_invalidated_total", "counter"),
                                 ("hotpath_cache_rejected_total", "counter"),
                                 ("hotpath_cache_bytes", "gauge"),
                                 ("hotpath_cache_entries", "gauge"),
                                 ("process_start_time_seconds", "gauge")):
                if types.get(family) != kind:
                    problems.append("%s: # TYPE %r, expected %s" % (family, types.get(family), kind))
            buckets = [(k[1], v) for k, v in after.items()
                       if k[0] == "hotpath_http_request_duration_seconds_bucket"]
            les = ["0.00001", "0.000025", "0.00005", "0.0001", "0.00025", "0.0005", "0.001",
                   "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
                   "+Inf"]
            values = [dict(buckets).get('{le="%s"}' % le) for le in les]
            if None in values or len(buckets) != len(les):
                problems.append("histogram buckets %r" % sorted(buckets))
            else:
                if values != sorted(values):
                    problems.append("histogram buckets not cumulative: %r" % values)
                count = after.get(("hotpath_http_request_duration_seconds_count", ""))
                if values[-1] != count:
                    problems.append("+Inf bucket %g != _count %r" % (values[-1], count))
                total = sum(v for k, v in after.items() if k[0] == "hotpath_http_requests_total")
                if count != total:
                    problems.append("_count %r != sum of requests_total %g" % (count, total))
            check("exposition format", problems)

            problems = []
            stmts = after.get(("hotpath_db_statements_total", ""), 0) - \
                before.get(("hotpath_db_statements_total", ""), 0)
            if stmts <= 0:
                problems.append("db_statements_total moved by %g, expected > 0" % stmts)
            hits = after.get(("hotpath_cache_hits_total", ""), 0) - before.get(("hotpath_cache_hits_total", ""), 0)
            if hits < 1:
                problems.append("cache_hits_total moved by %g, expected >= 1" % hits)
            start = after.get(("process_start_time_seconds", ""), 0)
            if not time.time() - 600 < start <= time.time():
                problems.append("process_start_time_seconds %r is not about now" % start)
            check("database and cache", problems)

            promtool = shutil.which("promtool")
            if promtool is None:
                results.append(("skip", "promtool", []))
                print("skip promtool: no promtool binary (Debian package prometheus)")
            else:
                r = subprocess.run([promtool, "check", "metrics"], input=text, text=True,
                                   capture_output=True, timeout=30)
                problems = []
                if r.returncode != 0 or r.stdout.strip() or r.stderr.strip():
                    problems.append("promtool check metrics: exit %d: %s%s"
                                    % (r.returncode, r.stdout, r.stderr))
                check("promtool", problems)
        finally:
            reason = server.stop()
            check("shutdown", [reason] if reason is not None else [])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    passed = sum(1 for r in results if r[0] == "ok")
    failed = sum(1 for r in results if r[0] == "FAIL")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
