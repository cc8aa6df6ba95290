"""
What the PostgreSQL suites share (tests/pg, tests/stream_pg, tests/mutate): throwaway clusters
made by scripts/pg-cluster.sh, psql, and a failure type for checks. Python 3 standard library.
"""
import os
import subprocess

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
