#!/usr/bin/env bash
# bench/ratelimit.sh BIN DB [OUT]: how exact the rate limit is over a long run (docs/limits.md),
# on the demo data (DB: a file made by `BIN demo --out DB`; bench/run.sh passes its own). Not a
# timed test: it reports the figures, and whether they meet the targets, in OUT (default
# bench/results/<date>-ratelimit.md).
#
#   (a) a victim alone: one client with its own X-API-Key sending point lookups at
#       BENCH_RATELIMIT_VICTIM_RPS (default 50/s, under its limit) for 10 s: its p50/p99.
#   (b) the same victim while an abuser (4 connections, one X-API-Key) sends as fast as it can
#       for BENCH_RATELIMIT_SECONDS (default 60) against rate-limit = 200/s,burst=50: the
#       abuser's admitted count against burst + rate * elapsed (target: within 1%), and the
#       victim's p99 against (a) (target: within 10%; the load generator shares the cores, so
#       read it with the machine's load in mind) and its 429s (target: none).
#
#   BENCH_RATELIMIT_SECONDS=60  BENCH_RATELIMIT_VICTIM_RPS=50  BENCH_RATELIMIT_ARGS=""
set -euo pipefail

if [ $# -lt 2 ] || [ ! -x "$1" ] || [ ! -f "$2" ]; then
  echo "usage: bench/ratelimit.sh PATH-TO-HOTPATH-BINARY DEMO-DB [OUT]" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
DB=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${3:-bench/results/$(date +%F)-ratelimit.md}

exec python3 - "$BIN" "$DB" "$OUT" "${BENCH_RATELIMIT_SECONDS:-60}" \
  "${BENCH_RATELIMIT_VICTIM_RPS:-50}" "${BENCH_RATELIMIT_ARGS:-}" <<'PY'
import datetime, http.client, os, socket, subprocess, sys, threading, time

BIN, DB, OUT, SECONDS, VICTIM_RPS, EXTRA = (sys.argv[1], sys.argv[2], sys.argv[3],
                                             int(sys.argv[4]), int(sys.argv[5]), sys.argv[6])
RATE, BURST, ABUSERS, ALONE_S = 200, 50, 4, 10
PATH = "/users?id=eq.1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(conn, key):
    conn.request("GET", PATH, headers={"X-API-Key": key})
    r = conn.getresponse()
    r.read()
    return r.status


port = free_port()
proc = subprocess.Popen([BIN, "serve", "--db-uri", DB, "--server-host", "127.0.0.1",
                         "--server-port", str(port), "--rate-limit", "%d/s,burst=%d" % (RATE, BURST),
                         "--rate-limit-key", "header:X-API-Key"] + EXTRA.split(),
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    deadline = time.monotonic() + 60
    while True:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/")
            if c.getresponse().status == 200:
                break
        except OSError:
            pass
        if time.monotonic() > deadline or proc.poll() is not None:
            sys.exit("bench/ratelimit.sh: the server did not start")
        time.sleep(0.05)

    def victim(seconds, key, out):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        start = time.monotonic()
        n = 0
        while time.monotonic() - start < seconds:
            due = start + n / VICTIM_RPS
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            t = time.perf_counter()
            status = request(conn, key)
            out.append((time.perf_counter() - t, status))
            n += 1

    def pct(samples, p):
        xs = sorted(s for s, _ in samples)
        return xs[min(len(xs) - 1, int(p * len(xs)))] * 1e3 if xs else float("nan")

    alone = []
    victim(ALONE_S, "victim-alone", alone)

    counts = [[0, 0] for _ in range(ABUSERS)]
    stop = threading.Event()
    first = []

    def abuser(i):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not stop.is_set():
            status = request(conn, "abuser")
            counts[i][0 if status == 200 else 1] += 1

    together = []
    threads = [threading.Thread(target=abuser, args=(i,)) for i in range(ABUSERS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    vt = threading.Thread(target=victim, args=(SECONDS, "victim", together))
    vt.start()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    vt.join()

    admitted = sum(c[0] for c in counts)
    limited = sum(c[1] for c in counts)
    expected = BURST + RATE * elapsed
    error = (admitted - expected) / expected * 100
    p99_alone, p99_together = pct(alone, 0.99), pct(together, 0.99)
    victim_429 = sum(1 for _, s in together if s == 429)
    ok_rate = abs(error) <= 1.0
    ok_p99 = p99_together <= p99_alone * 1.10
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    load = open("/proc/loadavg").read().split()[:3]
    report = f"""# Rate limit over {SECONDS} s, {datetime.date.today()}

bench/ratelimit.sh on {os.path.basename(DB)}; commit {commit}; load average {' '.join(load)} at the end;
`serve --rate-limit {RATE}/s,burst={BURST} --rate-limit-key header:X-API-Key {EXTRA}`, `GET {PATH}`.

| | figure | target | met |
|---|---|---|---|
| abuser ({ABUSERS} connections, full speed): admitted | {admitted} of {admitted + limited} in {elapsed:.3f} s | burst + rate x elapsed = {expected:.1f}, within 1% | {'yes' if ok_rate else 'no'} ({error:+.3f}%) |
| victim ({VICTIM_RPS}/s) alone: p50 / p99 | {pct(alone, .5):.3f} / {p99_alone:.3f} ms | | |
| victim beside the abuser: p50 / p99 | {pct(together, .5):.3f} / {p99_together:.3f} ms | p99 within 10% of alone | {'yes' if ok_p99 else 'no'} |
| victim beside the abuser: 429s | {victim_429} of {len(together)} | 0 | {'yes' if victim_429 == 0 else 'no'} |

The load generator (Python, {ABUSERS + 1} threads) runs on the same machine as the server, so the
victim's latency includes the abuser's CPU use on the shared cores.
"""
    os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
    with open(OUT, "w") as f:
        f.write(report)
    print(report)
    print("bench: written to %s" % OUT)
finally:
    proc.terminate()
    proc.wait(timeout=30)
PY
