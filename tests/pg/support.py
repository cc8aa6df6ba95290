"""
What the PostgreSQL suites share (tests/pg, tests/stream_pg, tests/mutate): throwaway clusters
made by scripts/pg-cluster.sh, psql, a failure type for checks, small waits and probes, and the
suites' main loop. Python 3 standard library.
"""
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import time

CLUSTER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                       "pg-cluster.sh")


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


def cluster(*args, timeout=180):
    """scripts/pg-cluster.sh ARGS; returns what it printed (a URI for start), or raises Fail."""
    out = subprocess.run([CLUSTER] + list(args), capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise Fail("pg-cluster.sh %s: %s" % (" ".join(args), out.stderr.strip()))
    return out.stdout.strip()


def psql(uri, sql, timeout=120):
    """Runs sql on uri, stopping at the first error; returns its unaligned output or raises."""
    out = subprocess.run(["psql", uri, "-X", "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise Fail("psql: %s" % out.stderr.strip())
    return out.stdout.strip()


def header(headers, name):
    """The value of header `name` (lowercase) in a list of (name, value) pairs, or None."""
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


def wait_for(fn, seconds, what):
    """Waits until fn() is true, or raises Fail after `seconds` (a bound on a hang only)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if fn():
            return
        time.sleep(0.05)
    raise Fail("%s within %gs" % (what, seconds))


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class ClusterEnv:
    """A throwaway cluster in TMP/primary loaded with `schema` (a replica, when a test makes
    one, goes in TMP/replica), and the servers the tests start on it, all logging to
    TMP/server.log. close() kills the servers and stops the clusters."""

    def __init__(self, binary, tmp, schema):
        self.binary = binary
        self.tmp = tmp
        self.primary_dir = os.path.join(tmp, "primary")
        self.replica_dir = os.path.join(tmp, "replica")
        self.uri = cluster("start", self.primary_dir)
        psql(self.uri, schema)
        self.replica_uri = None
        self.servers = []

    def server(self, *args, uri=None):
        from run import Server  # the spec runner's (its directory is on sys.path first)
        s = Server(self.binary, uri or self.uri, list(args), os.path.join(self.tmp, "server.log"))
        reason = s.start()
        if reason is not None:
            raise Fail("server did not start: %s\n%s" % (reason, "".join(s.log_tail())))
        self.servers.append(s)
        return s

    def close(self):
        for s in self.servers:
            s.kill()
        for d in (self.replica_dir, self.primary_dir):
            if os.path.isdir(d):
                subprocess.run([CLUSTER, "stop", d], capture_output=True, timeout=120)


def run_tests(argv, prefix, make_env, tests, kept_servers=0):
    """A PostgreSQL suite's main: BIN from argv, an env from make_env(binary, tmp), then each
    (name, fn) of tests with fn(env), one `ok`/`FAIL` line each; after a failure the servers
    past the first kept_servers are killed. Ends with `N passed, N failed`; returns the exit
    status (HP_PG_KEEP=1 keeps the temporary directory)."""
    if len(argv) != 2:
        print("usage: run.py BIN", file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    tmp = tempfile.mkdtemp(prefix=prefix)
    os.chmod(tmp, 0o755)
    passed = failed = 0
    env = None
    try:
        env = make_env(binary, tmp)
        for name, fn in tests:
            try:
                fn(env)
                passed += 1
                print("ok   %s" % name)
            except (Fail, OSError, http.client.HTTPException, ValueError) as e:
                failed += 1
                print("FAIL %s: %s" % (name, e))
                for srv in env.servers[kept_servers:]:
                    srv.kill()
                env.servers = env.servers[:kept_servers]
            sys.stdout.flush()
    except Fail as e:
        print("FAIL setup: %s" % e)
        failed += len(tests) - passed
    finally:
        if env is not None:
            env.close()
        if os.environ.get("HP_PG_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0
