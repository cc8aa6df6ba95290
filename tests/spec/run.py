#!/usr/bin/env python3
"""
The spec runner: HTTP behaviour as data, as curl's tests are.

Usage:  run.py BIN [FILE[:CASE-TITLE]]
        HP_SPEC_PG=postgres://USER@HOST:PORT/DB run.py BIN [FILE[:CASE-TITLE]]

For every case file (tests/spec/cases/*.case, or the one named), the runner builds a fresh
database from the fixture, starts `BIN serve` on it on a free 127.0.0.1 port, waits until
`GET /` answers 200, runs the file's cases in order (so a file can write, then read what it
wrote), then stops the server with SIGTERM and checks that it exited with status 0 (graceful
shutdown). Files are independent of each other; cases within a file are not. It prints one line
per failure (with the differences indented below it) and ends with exactly one line
`N passed, N failed`; the exit status is 1 when anything failed, 2 on a usage error. Python 3
standard library only.

The backend:
  SQLite (default)  the database is tests/spec/fixture.sql run by the sqlite3 CLI into a file in
                    a temporary directory, served with `--db-uri FILE`.
  PostgreSQL        with HP_SPEC_PG set to the URI of a role that may create databases on a
                    running server (scripts/pg-cluster.sh start prints one; scripts/test-spec-pg.sh
                    does it all), each file gets a database of its own, spec_<pid>_<n>, created
                    with the C collation (text sorts bytewise, as in SQLite) from
                    tests/spec/fixture.pg.sql by psql -v ON_ERROR_STOP=1, served with
                    `--db-uri` set to HP_SPEC_PG with spec_<pid>_<n> as its database, and dropped
                    (WITH (FORCE)) when the file is done, pass or fail.

FILE may be a path or a case file's name (`filters` or `filters.case`); CASE-TITLE picks one
case by its exact title, else by a case-insensitive substring of it (all that match run).

Environment: HP_SPEC_PG (above), HP_SPEC_TIMEOUT (seconds per request, default 10),
HP_SPEC_START_TIMEOUT (seconds for the server to come up, default 30), HP_SPEC_KEEP=1 keeps the
temporary directories (and PostgreSQL databases).

THE CASE FILE FORMAT

    # Comment lines may stand before the first case, and right after a case's ### line.
    %server-args --max-body-bytes 1024      (file directive: more arguments for `serve`)

    ### a title, unique within the file
    @only postgres                           (optional: the case runs on that backend alone)
    METHOD /path?query
    Header-Name: value                       (request headers, any number, repeatable)

    request body (optional, after one blank line, up to the --- line)
    --- 200
    Header-Name: value                       (must be present and equal)
    Header-Name: ~REGEX                      (must be present and fully match REGEX)
    !Header-Name                             (must be absent)
    @max-db-queries N                        (at most N SQL statements for this request)

    expected body (optional, after one blank line, up to the next ### or the end)

Backends: the same cases run on SQLite and on PostgreSQL. Where what PostgREST does on
PostgreSQL cannot be had from SQLite (or the other way round), a case says which backend it is
for with a line `@only sqlite` or `@only postgres` right after its ### line (comment lines may
stand around it), usually beside a twin case for the other backend under another title. A case
for the other backend is not run and counts as neither passed nor failed; each file's summary
line says how many were left out.

Request:
  - The request target is sent as written, except that spaces, double quotes, non-ASCII
    characters and the other characters HTTP does not allow there are percent-encoded (so
    `name=in.("a,b",c)` and `body=eq.héllo` can be written readably). Write %XX yourself for
    '&', '#', '+', '%' meant literally, and for '=' inside a parameter name.
  - The body is the lines as written joined by "\n", without a final newline. `{{C*N}}` in
    it expands to the character C repeated N times (for size limits). A body without a
    Content-Type header is sent as application/json. No Accept header is sent unless given.

Expected status: the `--- N` line.

Expected headers: names compare case-insensitively; several values of one header are joined
with ", " before comparing. Headers not listed are not checked.

Expected database work: a line `@max-db-queries N` among the expected headers (at most once
per case) fails the case when the server ran more than N SQL statements for its request. Every
file's server is started with a free --admin-server-port; the runner reads
hotpath_db_statements_total from its GET /metrics right before and right after the request
(the server counts a statement before it answers) and compares the difference with N. A read
answered from the response cache runs 0 statements, so N is an upper bound, not an exact count.

Expected body, by its first line:
  (nothing)      the body is not checked
  @empty         the body must be empty
  @text          the lines after it must equal the body as text (one final newline on either
                 side is ignored)
  @subset        the JSON after it must be contained in the body: every key of an expected
                 object must be present with a matching value (keys not given are not
                 checked; arrays must have the same length, element by element); an expected
                 {"$oneOf": [v1, v2, ...]} matches a value that matches any of v1, v2...;
                 an expected {"$any": true} matches any value (the key must be present).
                 Used for error bodies where only `code` (and not the message wording) is
                 PostgREST's contract.
  anything else  if it parses as JSON, the body must parse as JSON with exactly the same
                 value (object key order ignored; true/false are not numbers; 1 equals 1.0;
                 duplicate keys, raw control characters and invalid UTF-8 fail); otherwise it
                 is compared as @text.
"""

import difflib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")
FIXTURE = os.path.join(HERE, "fixture.sql")
FIXTURE_PG = os.path.join(HERE, "fixture.pg.sql")
BACKENDS = ("sqlite", "postgres")
REQUEST_TIMEOUT = float(os.environ.get("HP_SPEC_TIMEOUT", "10"))
START_TIMEOUT = float(os.environ.get("HP_SPEC_START_TIMEOUT", "30"))
STOP_TIMEOUT = 10.0


class FormatError(Exception):
    pass


class Case:
    def __init__(self, path, line, title):
        self.path = path
        self.line = line
        self.title = title
        self.method = None
        self.target = None
        self.req_headers = []  # [(name, value)]
        self.req_body = None  # bytes or None
        self.status = None
        self.exp_headers = []  # [(name, kind, value)] kind: eq, re, absent
        self.body_mode = None  # None, empty, text, subset, json
        self.exp_body = None  # text for text mode, parsed value for json/subset
        self.max_db_queries = None  # int or None: @max-db-queries N
        self.only = None  # None, or the one backend the case runs on: @only BACKEND

    def label(self):
        return '%s:%d "%s"' % (os.path.basename(self.path), self.line, self.title)


# --- parsing -------------------------------------------------------------------------------

def expand_body(text):
    return re.sub(r"\{\{(.)\*(\d+)\}\}", lambda m: m.group(1) * int(m.group(2)), text)


def strip_blank_edges(lines):
    while lines and lines[0].strip() == "":
        lines = lines[1:]
    while lines and lines[-1].strip() == "":
        lines = lines[:-1]
    return lines


def parse_expected_body(case, lines):
    lines = strip_blank_edges(lines)
    if not lines:
        return
    first = lines[0].strip()
    rest = "\n".join(lines[1:])
    if first == "@empty":
        if strip_blank_edges(lines[1:]):
            raise FormatError("%s: text after @empty" % case.label())
        case.body_mode = "empty"
    elif first == "@text":
        case.body_mode = "text"
        case.exp_body = rest
    elif first == "@subset":
        case.body_mode = "subset"
        try:
            case.exp_body = strict_json(rest)
        except ValueError as e:
            raise FormatError("%s: @subset body is not JSON: %s" % (case.label(), e))
    else:
        text = "\n".join(lines)
        try:
            case.exp_body = strict_json(text)
            case.body_mode = "json"
        except ValueError:
            case.body_mode = "text"
            case.exp_body = text


def parse_file(path):
    """Returns (server_args, [Case])."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    server_args = []
    cases = []
    i = 0
    n = len(lines)
    # File header: comments, directives, blank lines.
    while i < n and not lines[i].startswith("### "):
        s = lines[i].strip()
        if s.startswith("%server-args"):
            server_args += s[len("%server-args"):].split()
        elif s and not s.startswith("#"):
            raise FormatError("%s:%d: text outside a case: %r" % (path, i + 1, s))
        i += 1
    while i < n:
        case = Case(path, i + 1, lines[i][4:].strip())
        i += 1
        while i < n and ((lines[i].startswith("#") and not lines[i].startswith("### "))
                         or lines[i].startswith("@only")):
            if lines[i].startswith("@only"):
                om = re.match(r"^@only\s+(\S+)\s*$", lines[i])
                if not om or om.group(1) not in BACKENDS:
                    raise FormatError("%s:%d: bad @only line %r (one of: %s)"
                                      % (path, i + 1, lines[i], ", ".join(BACKENDS)))
                if case.only is not None:
                    raise FormatError("%s:%d: second @only line" % (path, i + 1))
                case.only = om.group(1)
            i += 1
        if i >= n or not lines[i].strip():
            raise FormatError("%s: no request line" % case.label())
        m = re.match(r"^([A-Z]+) (\S.*)$", lines[i])
        if not m:
            raise FormatError("%s: bad request line %r" % (case.label(), lines[i]))
        case.method, case.target = m.group(1), m.group(2).strip()
        i += 1
        # Request headers.
        while i < n and lines[i].strip() and not lines[i].startswith("--- "):
            hm = re.match(r"^([A-Za-z0-9-]+):\s?(.*)$", lines[i])
            if not hm:
                raise FormatError("%s:%d: bad request header %r" % (path, i + 1, lines[i]))
            case.req_headers.append((hm.group(1), hm.group(2)))
            i += 1
        # Request body.
        body = []
        while i < n and not lines[i].startswith("--- ") and not lines[i].startswith("### "):
            body.append(lines[i])
            i += 1
        body = strip_blank_edges(body)
        if body:
            case.req_body = expand_body("\n".join(body)).encode("utf-8")
        if i >= n or not lines[i].startswith("--- "):
            raise FormatError("%s: no '--- STATUS' line" % case.label())
        sm = re.match(r"^--- (\d{3})\s*$", lines[i])
        if not sm:
            raise FormatError("%s:%d: bad status line %r" % (path, i + 1, lines[i]))
        case.status = int(sm.group(1))
        i += 1
        # Expected headers.
        while i < n and lines[i].strip() and not lines[i].startswith("### "):
            s = lines[i]
            if s.startswith("@max-db-queries"):
                qm = re.match(r"^@max-db-queries\s+(\d+)\s*$", s)
                if not qm:
                    raise FormatError("%s:%d: bad @max-db-queries line %r" % (path, i + 1, s))
                if case.max_db_queries is not None:
                    raise FormatError("%s:%d: second @max-db-queries line" % (path, i + 1))
                case.max_db_queries = int(qm.group(1))
            elif s.startswith("!"):
                case.exp_headers.append((s[1:].strip(), "absent", None))
            else:
                hm = re.match(r"^([A-Za-z0-9-]+):\s?(.*)$", s)
                if not hm:
                    raise FormatError("%s:%d: bad expected header %r" % (path, i + 1, s))
                value = hm.group(2)
                if value.startswith("~"):
                    case.exp_headers.append((hm.group(1), "re", value[1:]))
                else:
                    case.exp_headers.append((hm.group(1), "eq", value))
            i += 1
        # Expected body.
        body = []
        while i < n and not lines[i].startswith("### "):
            body.append(lines[i])
            i += 1
        parse_expected_body(case, body)
        cases.append(case)
    titles = [c.title for c in cases]
    for t in titles:
        if titles.count(t) > 1:
            raise FormatError("%s: duplicate case title %r" % (path, t))
    return server_args, cases


# --- comparing -----------------------------------------------------------------------------

def _no_duplicate_keys(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise ValueError("duplicate key %r" % k)
        obj[k] = v
    return obj


def strict_json(text):
    return json.loads(text, object_pairs_hook=_no_duplicate_keys)


def json_equal(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def subset_match(exp, act):
    if isinstance(exp, dict) and list(exp.keys()) == ["$any"]:
        return True
    if isinstance(exp, dict) and list(exp.keys()) == ["$oneOf"] and isinstance(exp["$oneOf"], list):
        return any(subset_match(e, act) for e in exp["$oneOf"])
    if isinstance(exp, dict):
        return isinstance(act, dict) and all(k in act and subset_match(v, act[k]) for k, v in exp.items())
    if isinstance(exp, list):
        return isinstance(act, list) and len(exp) == len(act) and all(subset_match(e, a) for e, a in zip(exp, act))
    return json_equal(exp, act)


def pretty(value):
    return json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False).split("\n")


def diff_lines(expected, actual, limit=40):
    out = list(difflib.unified_diff(expected, actual, "expected", "actual", lineterm="", n=2))
    if len(out) > limit:
        out = out[:limit] + ["... (%d more diff lines)" % (len(out) - limit)]
    return out


def check(case, status, headers, body):
    """Returns a list of problems (strings); the first is the summary."""
    problems = []
    if status != case.status:
        problems.append("status %d, expected %d" % (status, case.status))
    for name, kind, value in case.exp_headers:
        values = [v for k, v in headers if k.lower() == name.lower()]
        got = ", ".join(values) if values else None
        if kind == "absent":
            if got is not None:
                problems.append("header %s should be absent, got %r" % (name, got))
        elif got is None:
            problems.append("header %s missing (expected %r)" % (name, ("~" + value) if kind == "re" else value))
        elif kind == "eq" and got != value:
            problems.append("header %s: %r, expected %r" % (name, got, value))
        elif kind == "re" and not re.fullmatch(value, got):
            problems.append("header %s: %r does not match ~%s" % (name, got, value))
    detail = []
    mode = case.body_mode
    if mode == "empty":
        if body:
            problems.append("body should be empty, got %d bytes" % len(body))
            detail = ["  actual: " + body[:300].decode("utf-8", "replace")]
    elif mode == "text":
        text = body.decode("utf-8", "replace")
        exp = case.exp_body
        if text.endswith("\n"):
            text = text[:-1]
        if exp.endswith("\n"):
            exp = exp[:-1]
        if text != exp:
            problems.append("body text differs")
            detail = diff_lines(exp.split("\n"), text.split("\n"))
    elif mode in ("json", "subset"):
        try:
            actual = strict_json(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            problems.append("body is not valid JSON (%s)" % e)
            detail = ["  actual: " + body[:300].decode("utf-8", "replace")]
            actual = None
        else:
            if mode == "json" and not json_equal(case.exp_body, actual):
                problems.append("body differs")
                detail = diff_lines(pretty(case.exp_body), pretty(actual))
            elif mode == "subset" and not subset_match(case.exp_body, actual):
                problems.append("body does not contain the expected subset")
                detail = diff_lines(pretty(case.exp_body), pretty(actual))
    return problems, detail


# --- the server ----------------------------------------------------------------------------

ALLOWED_IN_TARGET = set(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,;=:@/?%")


def encode_target(target):
    out = []
    for ch in target:
        if ch in ALLOWED_IN_TARGET:
            out.append(ch)
        else:
            out.extend("%%%02X" % b for b in ch.encode("utf-8"))
    return "".join(out)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_request(port, method, target, headers=(), body=None, timeout=REQUEST_TIMEOUT):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        names = set()
        for k, v in headers:
            conn.putheader(k, v.encode("utf-8"))
            names.add(k.lower())
        if body is not None:
            if "content-type" not in names:
                conn.putheader("Content-Type", "application/json")
            if "content-length" not in names:
                conn.putheader("Content-Length", str(len(body)))
        elif method in ("POST", "PATCH", "PUT") and "content-length" not in names:
            conn.putheader("Content-Length", "0")
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.getheaders(), data
    finally:
        conn.close()


class Server:
    """`BIN serve` on a free 127.0.0.1 port (and a free --admin-server-port). `db` is what
    --db-uri gets: a SQLite file's path (other runners open the same file with the sqlite3 CLI)
    or a postgres:// URI."""

    def __init__(self, binary, db, args, log_path):
        self.binary = binary
        self.db = db
        self.args = args
        self.log_path = log_path
        self.proc = None
        self.port = None
        self.admin_port = None

    def start(self):
        """Returns None, or a reason the server did not come up."""
        reason = None
        for _ in range(3):  # another process may take the free port before the server binds it
            self.port = free_port()
            self.admin_port = free_port()
            while self.admin_port == self.port:
                self.admin_port = free_port()
            cmd = [self.binary, "serve", "--db-uri", self.db, "--server-host", "127.0.0.1",
                   "--server-port", str(self.port),
                   "--admin-server-port", str(self.admin_port)] + self.args
            log = open(self.log_path, "ab")
            try:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            except OSError as e:
                return "cannot run %s: %s" % (self.binary, e)
            finally:
                log.close()
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    reason = "server exited with status %d while starting" % self.proc.returncode
                    break
                try:
                    status, _, _ = http_request(self.port, "GET", "/", timeout=2)
                    if status == 200:
                        self.db_statements()  # the admin listener answers too
                        return None
                    reason = "GET / answered %d" % status
                except (OSError, http.client.HTTPException):
                    pass
                time.sleep(0.05)
            else:
                reason = "server did not answer GET / with 200 within %gs" % START_TIMEOUT
                self.kill()
                return reason
        return reason

    def db_statements(self):
        """hotpath_db_statements_total from the admin listener's GET /metrics; raises OSError
        or http.client.HTTPException when it cannot be read."""
        status, _, body = http_request(self.admin_port, "GET", "/metrics", timeout=2)
        if status != 200:
            raise http.client.HTTPException("admin GET /metrics answered %d" % status)
        m = re.search(rb"^hotpath_db_statements_total (\d+)\s*$", body, re.M)
        if not m:
            raise http.client.HTTPException("admin GET /metrics has no hotpath_db_statements_total")
        return int(m.group(1))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM by PID; returns None when the server exited 0, else a reason."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return "server had already exited with status %d" % self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return "server did not exit within %gs of SIGTERM (killed)" % STOP_TIMEOUT
        if rc != 0:
            return "server exited with status %d after SIGTERM" % rc
        return None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, count=15):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").rstrip("\n").split("\n")
        except OSError:
            return []
        return [l for l in lines[-count:] if l]


# --- the database --------------------------------------------------------------------------

class SqliteDatabase:
    """The fixture in a SQLite file in the file's temporary directory (which holds its end)."""

    backend = "sqlite"

    def __init__(self, tmp):
        self.uri = os.path.join(tmp, "spec.db")

    def create(self):
        """Returns None, or why the fixture could not be built."""
        with open(FIXTURE, "rb") as f:
            mk = subprocess.run(["sqlite3", "-bail", self.uri], stdin=f, capture_output=True, timeout=60)
        return None if mk.returncode == 0 else mk.stderr.decode("utf-8", "replace").strip()

    def drop(self):
        pass


def psql(uri, *args):
    """Runs psql on uri (stopping at the first error); returns None, or its complaint."""
    cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", uri] + list(args)
    # A stop (Ctrl-C, SIGTERM) waits for psql: one killed in the middle of CREATE DATABASE would
    # leave a database that commits after the cleanup looked for it.
    stops = {signal.SIGINT, signal.SIGTERM}
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        run = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "%s: %s" % (" ".join(cmd[:1] + list(args)), e)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    return None if run.returncode == 0 else run.stderr.decode("utf-8", "replace").strip()


def with_database(uri, dbname):
    """The URI with its path (the database name) replaced; query parameters kept."""
    parts = urllib.parse.urlsplit(uri)
    return urllib.parse.urlunsplit(parts._replace(path="/" + dbname))


class PostgresDatabase:
    """The fixture in a database of its own, spec_<pid>_<n>, on the server HP_SPEC_PG names."""

    backend = "postgres"

    def __init__(self, admin_uri, number):
        self.admin_uri = admin_uri
        self.name = "spec_%d_%d" % (os.getpid(), number)
        self.uri = with_database(admin_uri, self.name)
        self.created = False

    def create(self):
        """Returns None, or why the fixture could not be built."""
        # template0 with the C collation: text sorts bytewise, as SQLite's BINARY does, whatever
        # the server's default locale is. Marked created first: a run stopped while psql runs
        # still drops it.
        self.created = True
        why = psql(self.admin_uri, "-c", "DROP DATABASE IF EXISTS %s" % self.name,
                   "-c", "CREATE DATABASE %s TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' "
                   "LC_CTYPE 'C'" % self.name)
        return why if why is not None else psql(self.uri, "-f", FIXTURE_PG)

    def drop(self):
        """FORCE: a server that had to be killed may have left connections behind."""
        if self.created and os.environ.get("HP_SPEC_KEEP") != "1":
            why = psql(self.admin_uri, "-c", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name)
            if why is not None:
                print("run.py: could not drop database %s: %s" % (self.name, why), file=sys.stderr)
            self.created = False


class Backend:
    """Makes each case file's database: SQLite files, or PostgreSQL databases (HP_SPEC_PG)."""

    def __init__(self, pg_uri):
        self.name = "postgres" if pg_uri else "sqlite"
        self.pg_uri = pg_uri
        self.count = 0

    def database(self, tmp):
        self.count += 1
        if self.pg_uri:
            return PostgresDatabase(self.pg_uri, self.count)
        return SqliteDatabase(tmp)

    def check(self):
        """Returns None, or why this backend cannot be used."""
        if not self.pg_uri:
            if shutil.which("sqlite3") is None:
                return "the sqlite3 CLI is needed to build the fixture"
            return None
        if not re.match(r"^postgres(ql)?://", self.pg_uri):
            return "HP_SPEC_PG must be a postgres:// or postgresql:// URI, not %r" % self.pg_uri
        if shutil.which("psql") is None:
            return "psql is needed to build the PostgreSQL fixture"
        why = psql(self.pg_uri, "-c", "SELECT 1")
        if why is not None:
            return "cannot connect to HP_SPEC_PG: %s" % why
        return None


# --- running -------------------------------------------------------------------------------

class Totals:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0  # cases @only for the other backend


class Checks:
    """A suite's named checks, for the suites that import this runner: check() prints one
    `ok NAME (note)` or `FAIL NAME` line with its problems (at most 20) indented below, and
    counts it; the suite ends with `print("%d passed, %d failed" % (c.passed, c.failed))`."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, problems, note=""):
        if problems:
            self.failed += 1
            print("FAIL %s" % name)
            for p in problems[:20]:
                print("    %s" % p)
            if len(problems) > 20:
                print("    ... and %d more" % (len(problems) - 20))
        else:
            self.passed += 1
            print("ok   %s%s" % (name, (" (%s)" % note) if note else ""))
        sys.stdout.flush()


def report_failure(label, problems, detail):
    print("FAIL %s: %s" % (label, "; ".join(problems)))
    for line in detail:
        print("    " + line)
    sys.stdout.flush()


def run_file(binary, backend, path, title_filter, totals):
    try:
        server_args, cases = parse_file(path)
    except FormatError as e:
        report_failure(os.path.basename(path), ["case file error: %s" % e], [])
        totals.failed += 1
        return
    if title_filter is not None:
        exact = [c for c in cases if c.title == title_filter]
        cases = exact or [c for c in cases if title_filter.lower() in c.title.lower()]
        if not cases:
            print("no case in %s matches %r" % (path, title_filter))
            totals.failed += 1
            return
    other = [c for c in cases if c.only not in (None, backend.name)]
    cases = [c for c in cases if c.only in (None, backend.name)]
    totals.skipped += len(other)
    left_out = "" if not other else ", %d only for %s" % (len(other), other[0].only)
    if not cases:
        print("ok   %s (0 cases%s)" % (os.path.basename(path), left_out))
        return
    tmp = tempfile.mkdtemp(prefix="hotpath-spec-")
    db = backend.database(tmp)
    server = Server(binary, db.uri, server_args, os.path.join(tmp, "server.log"))
    failed_before = totals.failed
    try:
        why = db.create()
        if why is not None:
            report_failure(os.path.basename(path), ["fixture failed: " + why], [])
            totals.failed += len(cases)
            return
        reason = server.start()
        if reason is not None:
            report_failure(os.path.basename(path), [reason, "%d cases not run" % len(cases)], server.log_tail())
            totals.failed += len(cases)
            return
        for idx, case in enumerate(cases):
            if not server.alive():
                rest = len(cases) - idx
                report_failure(case.label(), ["server died (status %s); this and %d later cases not run"
                                              % (server.proc.returncode, rest - 1)], server.log_tail())
                totals.failed += rest
                break
            try:
                before = server.db_statements() if case.max_db_queries is not None else None
                status, headers, body = http_request(server.port, case.method, encode_target(case.target),
                                                     case.req_headers, case.req_body)
                after = server.db_statements() if case.max_db_queries is not None else None
            except (OSError, http.client.HTTPException) as e:
                report_failure(case.label(), ["request failed: %s: %s" % (type(e).__name__, e)], [])
                totals.failed += 1
                continue
            problems, detail = check(case, status, headers, body)
            if case.max_db_queries is not None and after - before > case.max_db_queries:
                problems.append("%d SQL statements, expected at most %d (@max-db-queries)"
                                % (after - before, case.max_db_queries))
            if problems:
                report_failure(case.label(), problems, detail)
                totals.failed += 1
            else:
                totals.passed += 1
        reason = server.stop()
        if reason is not None:
            report_failure("%s (graceful shutdown)" % os.path.basename(path), [reason], server.log_tail())
            totals.failed += 1
    finally:
        server.kill()
        db.drop()
        if os.environ.get("HP_SPEC_KEEP") == "1":
            print("kept %s%s" % (tmp, " and database %s" % db.uri if backend.pg_uri else ""))
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    bad = totals.failed - failed_before
    print("%s %s (%d cases%s%s)" % ("ok  " if bad == 0 else "FAIL", os.path.basename(path), len(cases),
                                    "" if bad == 0 else ", %d failed" % bad, left_out))
    sys.stdout.flush()


def resolve_file(name):
    for cand in (name, os.path.join(CASES_DIR, name), os.path.join(CASES_DIR, name + ".case")):
        if os.path.isfile(cand):
            return cand
    return None


def main(argv):
    if len(argv) < 2 or len(argv) > 3 or argv[1] in ("-h", "--help"):
        print("usage: run.py BIN [FILE[:CASE-TITLE]]", file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    if not os.access(binary, os.X_OK):
        print("run.py: %s is not an executable" % binary, file=sys.stderr)
        return 2
    # SIGTERM unwinds as Ctrl-C does, so the running file's server, directory and database go.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    backend = Backend(os.environ.get("HP_SPEC_PG", ""))
    why = backend.check()
    if why is not None:
        print("run.py: %s" % why, file=sys.stderr)
        return 2
    title = None
    if len(argv) == 3:
        spec = argv[2]
        path = resolve_file(spec)
        if path is None and ":" in spec:
            spec, title = spec.split(":", 1)
            path = resolve_file(spec)
        if path is None:
            print("run.py: no case file %r" % spec, file=sys.stderr)
            return 2
        files = [path]
    else:
        files = sorted(os.path.join(CASES_DIR, f) for f in os.listdir(CASES_DIR) if f.endswith(".case"))
    totals = Totals()
    for path in files:
        run_file(binary, backend, path, title, totals)
    if totals.skipped:
        print("%s: %d case%s for the other backend left out"
              % (backend.name, totals.skipped, "" if totals.skipped == 1 else "s"))
    print("%d passed, %d failed" % (totals.passed, totals.failed))
    return 1 if totals.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
