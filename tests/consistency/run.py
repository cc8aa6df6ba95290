#!/usr/bin/env python3
"""
Consistency under concurrency, against a real server on a real SQLite file.

Usage: run.py BIN

1. read-your-writes: WORKERS clients, each on its own keep-alive connection, repeatedly PATCH
   a counter row (some rows shared between clients, some private) and then GET it. A GET after
   an acknowledged PATCH by the same client must see that value or a later one (values only
   grow); for private rows exactly that value. The server runs with several loop threads so
   writes and reads land on different threads and read connections (db-snapshot-ms keeps
   read snapshots between requests: a stale snapshot would show here). Any stale read fails.
2. external writes: a write made with the sqlite3 CLI (another process) must be visible to a
   GET within EXTERNAL_BOUND_MS (db-snapshot-ms is 20 by default).
3. schema reload: a table created with the sqlite3 CLI is 404 until SIGUSR1, then served.
Ends with the line `N passed, N failed`. HP_SERVER_ARGS adds arguments to `serve`.
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec"))
from run import Server  # noqa: E402  (the spec runner's server control)

WORKERS = 8
ROUNDS = 150
SHARED_ROWS = 4
EXTERNAL_BOUND_MS = 100

SCHEMA = """
CREATE TABLE counters (id INTEGER PRIMARY KEY, value INTEGER NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
INSERT INTO counters SELECT i, 0 FROM n;
"""


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    def request(self, method, target, body=None):
        headers = {"Content-Type": "application/json"} if body is not None else {}
        self.conn.request(method, target, body=body, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def value(self, row):
        status, body = self.request("GET", "/counters?id=eq.%d&select=value" % row)
        if status != 200:
            raise AssertionError("GET answered %d: %r" % (status, body))
        return json.loads(body)[0]["value"]


def run_threads(workers, timeout):
    """Runs each (name, fn, args) of `workers` on its own daemon thread and waits for all of
    them, at most `timeout` seconds in all. Returns the problems: each thread still running at
    the deadline, and each exception a thread raised."""
    errors = []
    lock = threading.Lock()

    def body(name, fn, args):
        try:
            fn(*args)
        except BaseException as e:  # noqa: BLE001 - reported as a problem
            with lock:
                errors.append("%s raised %s: %s" % (name, type(e).__name__, e))

    threads = [threading.Thread(target=body, args=w, name=w[0], daemon=True) for w in workers]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    problems = ["%s still running after %g s" % (t.name, timeout) for t in threads if t.is_alive()]
    with lock:
        return problems + errors


def read_your_writes(port):
    problems = []
    lock = threading.Lock()
    next_value = [0]

    def worker(index):
        client = Client(port)
        private = SHARED_ROWS + 1 + index
        try:
            for r in range(ROUNDS):
                row = private if r % 2 == 0 else 1 + r % SHARED_ROWS
                with lock:
                    next_value[0] += 1
                    value = next_value[0]
                # Values only grow per row: "value = max(value, new)" keeps that under races.
                status, body = client.request(
                    "PATCH", "/counters?id=eq.%d&value=lt.%d" % (row, value),
                    json.dumps({"value": value}))
                if status != 204:
                    raise AssertionError("PATCH answered %d: %r" % (status, body))
                seen = client.value(row)
                if seen < value or (row == private and seen != value):
                    with lock:
                        problems.append("client %d row %d: wrote %d, then read %d" % (index, row, value, seen))
        except Exception as e:  # noqa: BLE001 - reported as a failure
            with lock:
                problems.append("client %d: %s" % (index, e))

    problems += run_threads([("client %d" % i, worker, (i,)) for i in range(WORKERS)], 120)
    return problems


def external_writes(port, db):
    problems = []
    client = Client(port)
    for attempt in range(20):
        value = 1000000 + attempt
        client.value(100)  # a read right before, so the loop holds a fresh snapshot
        subprocess.run(["sqlite3", db, "UPDATE counters SET value = %d WHERE id = 100" % value],
                       check=True, timeout=30)
        written = time.monotonic()
        while client.value(100) != value:
            if (time.monotonic() - written) * 1000 > EXTERNAL_BOUND_MS:
                problems.append("an external write was not visible after %d ms" % EXTERNAL_BOUND_MS)
                return problems
            time.sleep(0.002)
    return problems


def schema_reload(server, db):
    problems = []
    client = Client(server.port)
    subprocess.run(["sqlite3", db, "CREATE TABLE gauges (id INTEGER PRIMARY KEY, v REAL); "
                    "INSERT INTO gauges VALUES (1, 2.5)"], check=True, timeout=30)
    status, body = client.request("GET", "/gauges")
    if status != 404:
        problems.append("before SIGUSR1: GET /gauges answered %d, expected 404" % status)
    server.proc.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 5
    while True:
        status, body = client.request("GET", "/gauges?select=id,v")
        if status == 200:
            if json.loads(body) != [{"id": 1, "v": 2.5}]:
                problems.append("after SIGUSR1: unexpected body %r" % body)
            break
        if time.monotonic() > deadline:
            problems.append("after SIGUSR1: GET /gauges still answers %d after 5 s" % status)
            break
        time.sleep(0.01)
    return problems


def main(argv):
    if len(argv) != 2:
        print("usage: run.py BIN", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="hotpath-consistency-")
    passed = failed = 0
    try:
        db = os.path.join(tmp, "c.db")
        subprocess.run(["sqlite3", db], input=SCHEMA, text=True, check=True)
        extra = os.environ.get("HP_SERVER_ARGS", "").split()
        server = Server(os.path.abspath(argv[1]), db, ["--server-threads", "3", "--db-pool", "2"] + extra,
                        os.path.join(tmp, "server.log"))
        reason = server.start()
        if reason is not None:
            print("FAIL server: %s" % reason)
            return 1
        try:
            # External writes first: the server must notice them before it has made any
            # write of its own (the watcher once only started after the first write).
            for name, fn in (("external-writes", lambda: external_writes(server.port, db)),
                             ("read-your-writes", lambda: read_your_writes(server.port)),
                             ("schema-reload", lambda: schema_reload(server, db))):
                problems = fn()
                if problems:
                    failed += 1
                    print("FAIL %s: %d problem(s)" % (name, len(problems)))
                    for p in problems[:10]:
                        print("    " + p)
                else:
                    passed += 1
                    print("ok   %s" % name)
        finally:
            reason = server.stop()
            if reason is not None:
                failed += 1
                print("FAIL shutdown: %s" % reason)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
