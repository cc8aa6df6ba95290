#!/usr/bin/env python3
"""
Rate limits (docs/limits.md), end to end: a real server on a real SQLite file, real HTTP.

Usage: run.py BIN

Checks:
 - off by default: no RateLimit headers, no rate-limit metrics;
 - with rate-limit = 20/s,burst=5 and rate-limit-key = header:X-API-Key, a client sending as
   fast as it can on one connection for a measured interval is admitted at most
   burst + rate * elapsed + 1 times, and at least rate * elapsed * 0.9 times when it sent
   faster than twice the rate (else that bound is skipped, and counted as skipped);
 - its 429s carry Retry-After >= 1, the HP429 JSON body and the RateLimit headers; its 200s
   (cache hits too) carry the RateLimit headers;
 - a second client (another X-API-Key) has all its requests admitted while the first is
   being limited;
 - a per-table rule (items:writes) limits that table's writes only; a bulk rule limits the
   sub-requests of a /_/batch, whose envelope counts once against rate-limit;
 - /metrics counts the decisions by rule and outcome, exactly;
 - an invalid rate-limit setting fails the start with a message naming the key.
No bound depends on the machine's speed: the counts are bounded by elapsed time as measured.
Prints one `ok`/`FAIL`/`skip` line per test, then `N passed, N failed, N skipped`.
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
from run import Server, free_port, http_request  # noqa: E402  (the spec runner's helpers)

SCHEMA = """
CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE others (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
INSERT INTO items VALUES (1, 'one'), (2, 'two');
"""
RATE, BURST = 20, 5
FLOOD_S = 2.0          # how long the first client sends as fast as it can
FLOOD_MAX = 20000      # and at most this many requests
START_FAIL_TIMEOUT_S = 30

POLICY_RE = re.compile(r'"default";q=20;w=1')
STATE_RE = re.compile(r'"default";r=(\d+);t=(\d+)')


class Client:
    """One keep-alive connection sending as one API key."""

    def __init__(self, port, key):
        self.port, self.key = port, key
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def request(self, method, target, body=None):
        headers = {"X-API-Key": self.key}
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            try:
                self.conn.request(method, target, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
            except (http.client.HTTPException, OSError):
                if attempt:
                    raise
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)

    def close(self):
        self.conn.close()


def check_limited(status, headers, body, rule):
    """Problems with a 429 answer that rule `rule` denied."""
    problems = []
    if status != 429:
        return ["status %d, expected 429" % status]
    ra = headers.get("retry-after", "")
    if not ra.isdigit() or int(ra) < 1:
        problems.append("Retry-After %r is not a whole number >= 1" % ra)
    try:
        doc = json.loads(body)
        if doc.get("code") != "HP429" or ('"%s"' % rule) not in (doc.get("message") or ""):
            problems.append("body %r is not HP429 naming rule %s" % (doc, rule))
        if set(doc) != {"code", "message", "details", "hint"}:
            problems.append("body keys %r are not PostgREST's" % sorted(doc))
    except ValueError:
        problems.append("body %r is not JSON" % body[:200])
    if ('"%s";' % rule) not in headers.get("ratelimit-policy", ""):
        problems.append("RateLimit-Policy %r does not list %s" % (headers.get("ratelimit-policy"), rule))
    if not re.search(r'"%s";r=0;t=\d+' % re.escape(rule), headers.get("ratelimit", "")):
        problems.append("RateLimit %r does not say r=0 for %s" % (headers.get("ratelimit"), rule))
    return problems


def scrape_decisions(admin_port):
    status, _, body = http_request(admin_port, "GET", "/metrics")
    out = {}
    for m in re.finditer(r'^hotpath_ratelimit_decisions_total\{rule="([^"]*)",outcome="(\w+)"\} (\d+)$',
                         body.decode(), re.M):
        out[(m.group(1), m.group(2))] = int(m.group(3))
    return status, out, body.decode()


def main(argv):
    if len(argv) != 2:
        print("usage: run.py BIN", file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    tmp = tempfile.mkdtemp(prefix="hotpath-ratelimit-")
    counts = {"ok": 0, "FAIL": 0, "skip": 0}

    def check(name, problems, skip=None):
        word = "skip" if skip is not None and not problems else ("FAIL" if problems else "ok")
        counts[word] += 1
        print("%-4s %s%s" % (word, name, (": " + skip) if word == "skip" else ""))
        for p in problems[:10]:
            print("    " + p)

    servers = []

    def start(args, name):
        s = Server(binary, db, ["--server-threads", "2"] + args, os.path.join(tmp, name + ".log"))
        reason = s.start()
        if reason is not None:
            print("FAIL %s server: %s" % (name, reason))
            print("\n".join(s.log_tail()))
            return None
        servers.append(s)
        return s

    try:
        db = os.path.join(tmp, "rl.db")
        subprocess.run(["sqlite3", db], input=SCHEMA, text=True, check=True, timeout=30)

        # --- off by default -----------------------------------------------------------------
        s = start([], "off")
        if s is None:
            counts["FAIL"] += 1
            return 1
        problems = []
        c = Client(s.port, "a")
        for _ in range(3 * BURST):
            status, headers, _ = c.request("GET", "/items")
            if status != 200 or "ratelimit" in headers or "ratelimit-policy" in headers:
                problems.append("GET /items answered %d with %r" % (status, headers))
                break
        c.close()
        _, decisions, text = scrape_decisions(s.admin_port)
        if "hotpath_ratelimit" in text:
            problems.append("/metrics has rate-limit metrics with rate limiting off")
        check("off by default: no limit, no RateLimit headers, no metrics", problems)
        s.stop()
        servers.remove(s)

        # --- on -----------------------------------------------------------------------------
        s = start(["--rate-limit", "%d/s,burst=%d" % (RATE, BURST),
                   "--rate-limit-key", "header:X-API-Key",
                   "--rate-limit-rules", "items:writes=2/min,burst=1; *:bulk=3/min"], "on")
        if s is None:
            counts["FAIL"] += 1
            return 1
        limited_default = 0  # 429s the default rule gave, as the clients saw them

        # The flood: one client as fast as it can.
        a = Client(s.port, "flood")
        admitted = sent = 0
        first_429 = first_200 = None
        t0 = time.monotonic()
        while sent < FLOOD_MAX and time.monotonic() - t0 < FLOOD_S:
            status, headers, body = a.request("GET", "/items?id=eq.1")
            sent += 1
            if status == 200:
                admitted += 1
                first_200 = first_200 or (headers, body)
            elif status == 429:
                limited_default += 1
                first_429 = first_429 or (status, headers, body)
        elapsed = time.monotonic() - t0
        upper = BURST + RATE * elapsed + 1
        problems = []
        if admitted > upper:
            problems.append("admitted %d in %.3fs; at most %.1f allowed" % (admitted, elapsed, upper))
        if admitted + limited_default != sent:
            problems.append("%d answers were neither 200 nor 429" % (sent - admitted - limited_default))
        check("flood: admitted %d of %d in %.3fs <= burst + rate*elapsed + 1 (%.1f)"
              % (admitted, sent, elapsed, upper), problems)
        if sent >= 2 * RATE * elapsed:
            lower = RATE * elapsed * 0.9
            check("flood: admitted %d >= rate*elapsed*0.9 (%.1f)" % (admitted, lower),
                  [] if admitted >= lower else ["admitted %d < %.1f" % (admitted, lower)])
        else:
            check("flood: lower bound", [], skip="the client sent %d in %.3fs, not faster than "
                  "twice the rate" % (sent, elapsed))

        # What a 429 and a 200 carry.
        problems = []
        if first_429 is None:
            problems.append("no 429 in the flood")
        else:
            problems += check_limited(*first_429, "default")
        if first_200 is None:
            problems.append("no 200 in the flood")
        else:
            headers, _ = first_200
            if not POLICY_RE.search(headers.get("ratelimit-policy", "")):
                problems.append("200: RateLimit-Policy %r" % headers.get("ratelimit-policy"))
            if not STATE_RE.search(headers.get("ratelimit", "")):
                problems.append("200: RateLimit %r" % headers.get("ratelimit"))
        check("429: Retry-After >= 1, HP429 body, RateLimit headers; 200: RateLimit headers",
              problems)

        # A second client while the first is limited: every one of its requests is admitted.
        b = Client(s.port, "second")
        problems = []
        a_limited = 0
        for i in range(BURST):
            for _ in range(5):
                status, _, _ = a.request("GET", "/items?id=eq.1")
                if status == 429:
                    a_limited += 1
                    limited_default += 1
            status, headers, body = b.request("GET", "/items?id=eq.1")
            if status != 200:
                problems.append("second client's request %d answered %d %r" % (i, status, body[:200]))
        if a_limited == 0:
            problems.append("the first client was not being limited meanwhile")
        check("a second client is unaffected (all %d admitted; the first got %d 429s meanwhile)"
              % (BURST, a_limited), problems)
        a.close()
        b.close()
        # A cache hit carries the headers too (the limit runs before the cache step).
        h = Client(s.port, "hitter")
        h.request("GET", "/items?id=eq.2")
        status, headers, _ = h.request("GET", "/items?id=eq.2")
        problems = []
        if status != 200 or "hit" not in headers.get("cache-status", ""):
            problems.append("second GET answered %d, Cache-Status %r: not a cache hit"
                            % (status, headers.get("cache-status")))
        if not POLICY_RE.search(headers.get("ratelimit-policy", "")) or \
                STATE_RE.search(headers.get("ratelimit", "")) is None:
            problems.append("cache hit without the RateLimit headers: %r" % headers)
        check("a cache hit carries the RateLimit headers", problems)
        h.close()

        # A per-table class rule: items' writes only.
        w = Client(s.port, "writer")
        problems = []
        status, headers, body = w.request("POST", "/items", json.dumps({"id": 10, "name": "x"}))
        if status != 201:
            problems.append("first POST /items answered %d %r" % (status, body[:200]))
        elif '"items:writes";q=2;w=60' not in headers.get("ratelimit-policy", ""):
            problems.append("POST /items RateLimit-Policy %r" % headers.get("ratelimit-policy"))
        status, headers, body = w.request("POST", "/items", json.dumps({"id": 11, "name": "y"}))
        problems += ["second POST /items: " + p for p in check_limited(status, headers, body, "items:writes")]
        status, headers, body = w.request("GET", "/items?id=eq.1")
        if status != 200:
            problems.append("GET /items (a read) answered %d" % status)
        elif "items:writes" in headers.get("ratelimit-policy", ""):
            problems.append("a read of items lists the writes rule: %r" % headers.get("ratelimit-policy"))
        status, _, body = w.request("POST", "/others", json.dumps({"id": 1, "name": "z"}))
        if status != 201:
            problems.append("POST /others (another table) answered %d %r" % (status, body[:200]))
        check("items:writes limits items' writes only", problems)
        w.close()

        # /_/batch: the envelope counts once against rate-limit, sub-requests against *:bulk.
        bc = Client(s.port, "batcher")
        subs = [{"method": "GET", "path": "/items?id=eq.%d" % (1 + i % 2)} for i in range(BURST + 3)]
        status, headers, body = bc.request("POST", "/_/batch", json.dumps(subs))
        problems = []
        if status != 200:
            problems.append("POST /_/batch answered %d %r" % (status, body[:300]))
        else:
            entries = json.loads(body)
            statuses = [e["status"] for e in entries]
            if statuses.count(200) != 3 or statuses.count(429) != len(subs) - 3:
                problems.append("sub-request statuses %r: expected 3 x 200 (*:bulk=3/min), the "
                                "rest 429" % statuses)
            denied = [e for e in entries if e["status"] == 429]
            if denied and (denied[0]["body"] or {}).get("code") != "HP429":
                problems.append("a denied sub-request's body %r" % denied[0]["body"])
            if not re.search(r'"default";r=%d;' % (BURST - 1), headers.get("ratelimit", "")):
                problems.append("the envelope did not count once against default: RateLimit %r"
                                % headers.get("ratelimit"))
        check("/_/batch: the envelope counts once, sub-requests against *:bulk", problems)
        bc.close()

        # Metrics: decisions by rule and outcome, exactly as the clients saw them.
        _, decisions, _ = scrape_decisions(s.admin_port)
        problems = []
        for key, want in ((("default", "limited"), limited_default),
                          (("items:writes", "limited"), 1), (("items:writes", "allowed"), 1),
                          (("*:bulk", "allowed"), 3), (("*:bulk", "limited"), len(subs) - 3)):
            if decisions.get(key) != want:
                problems.append("%s: %r, expected %d" % (key, decisions.get(key), want))
        check("/metrics: hotpath_ratelimit_decisions_total by rule and outcome", problems)
        s.stop()
        servers.remove(s)

        # --- bad settings fail the start, naming the key ------------------------------------
        for args, want in ((["--rate-limit-rules", "items:write=1/s"],
                            "rate-limit-rules: 'items:write=1/s': 'write' is not a class"),
                           (["--rate-limit", "10/h"], "rate-limit: '10/h' has unit 'h'"),
                           (["--rate-limit", "10/s", "--rate-limit-key", "claim:sub"],
                            "rate-limit-key: 'claim:sub': claim keys need authentication")):
            cmd = [binary, "serve", "--db-uri", db, "--server-host", "127.0.0.1",
                   "--server-port", str(free_port())] + args
            problems = []
            try:
                p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                   timeout=START_FAIL_TIMEOUT_S)
                if p.returncode == 0:
                    problems.append("exited 0")
                if want not in p.stderr:
                    problems.append("stderr %r does not say %r" % (p.stderr[-500:], want))
            except subprocess.TimeoutExpired:
                problems.append("still running after %ds" % START_FAIL_TIMEOUT_S)
            check("bad setting %s fails the start" % " ".join(args), problems)
    finally:
        for s in servers:
            s.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (counts["ok"], counts["FAIL"], counts["skip"]))
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
