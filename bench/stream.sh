#!/usr/bin/env bash
# bench/stream.sh BIN DB [OUT]: what streamed results cost (docs/streaming.md), on the demo data
# (DB: a file made by `BIN demo --out DB`; bench/run.sh passes its own). Not a timed test: it
# reports figures, and whether they meet the targets, in OUT (default
# bench/results/<date>-stream.md).
#
#   (a) one full-speed `GET /readings` (the whole table, no limit): time to first byte, total
#       time, rows/s, and the server's peak RSS above its idle RSS; once streamed (the default
#       stream-after-bytes) and once with stream-after-bytes 0 (the whole body built first,
#       as before streaming), for comparison.
#   (b) together: 5 clients reading `GET /readings` at 100 KB/s each and 3 that never read,
#       for BENCH_STREAM_SECONDS (default 20, below the default server-send-timeout-ms of
#       30 s, so the stalled ones stay connected): the server's peak RSS above idle, and
#       point lookups answered meanwhile.
# RSS is sampled from /proc/PID/status every 20 ms (VmRSS, split into RssAnon, the heap, and
# RssFile, the database file's pages mapped by SQLite's mmap, which the kernel can drop).
#
#   BENCH_STREAM_SECONDS=20   length of (b)
#   BENCH_STREAM_ARGS=""      extra arguments for `hotpath serve`
set -euo pipefail

if [ $# -lt 2 ] || [ ! -x "$1" ] || [ ! -f "$2" ]; then
  echo "usage: bench/stream.sh PATH-TO-HOTPATH-BINARY DEMO-DB [OUT]" >&2
  exit 2
fi
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
DB=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
OUT=${3:-bench/results/$(date +%F)-stream.md}
SECONDS_B=${BENCH_STREAM_SECONDS:-20}
command -v curl >/dev/null || { echo "bench: curl is not installed" >&2; exit 1; }

exec python3 - "$BIN" "$DB" "$OUT" "$SECONDS_B" "${BENCH_STREAM_ARGS:-}" <<'PY'
import os, re, socket, subprocess, sys, threading, time, datetime

BIN, DB, OUT, SECONDS_B, EXTRA = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
SLOW, STALLED, RATE = 5, 3, 100 * 1000  # clients of (b), bytes/s of each slow one


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "RssAnon", "RssFile"):
                out[k] = int(v.split()[0])
    return out


class Sampler(threading.Thread):
    """Peak VmRSS (and its split at that moment) while running."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, None, threading.Event()

    def run(self):
        while not self.stop.is_set():
            s = status(self.pid)
            if self.peak is None or s["VmRSS"] > self.peak["VmRSS"]:
                self.peak = s
            time.sleep(0.02)

    def end(self):
        self.stop.set()
        self.join()
        return self.peak


class Server:
    def __init__(self, args):
        self.port = free_port()
        self.log = open("build/bench/stream-server.log", "ab")
        cmd = [BIN, "serve", "--db-uri", DB, "--server-host", "127.0.0.1",
               "--server-port", str(self.port)] + args + EXTRA.split()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit("bench: the server exited at start (build/bench/stream-server.log)")
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                return
            except OSError:
                time.sleep(0.1)
        sys.exit("bench: the server did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def curl(port, path, *extra):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w",
                          "%{http_code} %{time_starttransfer} %{time_total} %{size_download}",
                          *extra, "http://127.0.0.1:%d%s" % (port, path)],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), float(out[1]), float(out[2]), int(out[3])


def row_count(port):
    out = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", "-H", "Prefer: count=exact",
                          "http://127.0.0.1:%d/readings?select=id&limit=1" % port],
                         capture_output=True, text=True, check=True).stdout
    return int(re.search(r"content-range: \S+/(\d+)", out, re.I).group(1))


def full_read(args):
    srv = Server(args)
    try:
        rows = row_count(srv.port)
        curl(srv.port, "/sensors?limit=1")
        time.sleep(0.5)
        idle = status(srv.proc.pid)
        sampler = Sampler(srv.proc.pid)
        sampler.start()
        code, ttfb, total, size = curl(srv.port, "/readings")
        peak = sampler.end()
        return dict(rows=rows, code=code, ttfb_ms=ttfb * 1000, total_s=total, bytes=size,
                    rows_s=rows / total, idle=idle, peak=peak)
    finally:
        srv.stop()


def slow_reader(port, stop, got):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    s.sendall(b"GET /readings HTTP/1.1\r\nHost: b\r\n\r\n")
    start = time.monotonic()
    n = 0
    while not stop.is_set():
        allowed = int((time.monotonic() - start) * RATE) - n
        if allowed <= 0:
            time.sleep(0.01)
            continue
        s.settimeout(0.5)
        try:
            d = s.recv(min(allowed, 16384))
        except socket.timeout:
            continue
        if not d:
            break
        n += len(d)
    got.append(n)
    s.close()


def together():
    srv = Server([])
    try:
        curl(srv.port, "/sensors?limit=1")
        time.sleep(0.5)
        idle = status(srv.proc.pid)
        sampler = Sampler(srv.proc.pid)
        sampler.start()
        stop, got, threads = threading.Event(), [], []
        for _ in range(SLOW):
            t = threading.Thread(target=slow_reader, args=(srv.port, stop, got))
            t.start()
            threads.append(t)
        stalled = []
        for _ in range(STALLED):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /readings HTTP/1.1\r\nHost: b\r\n\r\n")
            stalled.append(s)
        end = time.monotonic() + SECONDS_B
        lookups, worst = 0, 0.0
        while time.monotonic() < end:
            code, _, t, _ = curl(srv.port, "/readings?id=eq.%d" % (lookups + 1))
            if code == 200:
                lookups += 1
                worst = max(worst, t)
            time.sleep(0.2)
        peak = sampler.end()
        stop.set()
        for t in threads:
            t.join()
        for s in stalled:
            s.close()
        return dict(idle=idle, peak=peak, read=sum(got), lookups=lookups, worst_ms=worst * 1000)
    finally:
        srv.stop()


a = full_read([])
a0 = full_read(["--stream-after-bytes", "0"])
b = together()


def mb(kb):
    return kb / 1024.0


def growth(r):
    return mb(r["peak"]["VmRSS"] - r["idle"]["VmRSS"])


def split(r):
    return "anon +%.0f MB, file +%.0f MB" % (mb(r["peak"]["RssAnon"] - r["idle"]["RssAnon"]),
                                              mb(r["peak"]["RssFile"] - r["idle"]["RssFile"]))


b_anon = mb(b["peak"]["RssAnon"] - b["idle"]["RssAnon"])
lines = [
    "# Streamed results: %s" % datetime.date.today().isoformat(),
    "",
    "bench/stream.sh on %s (`GET /readings`: %d rows, %.0f MB of JSON); commit %s; load at start %s."
    % (os.path.basename(DB), a["rows"], a["bytes"] / 1e6,
       subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                      text=True).stdout.strip(), open("/proc/loadavg").read().split()[0]),
    "",
    "| run | status | first byte ms | total s | rows/s | peak RSS above idle (MB) | of which |",
    "|---|---:|---:|---:|---:|---:|---|",
]
for name, r in (("(a) streamed (stream-after-bytes 1M)", a), ("(a) unstreamed (stream-after-bytes 0)", a0)):
    lines.append("| %s | %d | %.1f | %.2f | %.0f | %.0f | %s |" % (
        name, r["code"], r["ttfb_ms"], r["total_s"], r["rows_s"], growth(r), split(r)))
lines += [
    "",
    "(b) %d clients at 100 KB/s + %d that never read, %d s: peak RSS above idle **%.0f MB** (%s); "
    "the slow ones read %.1f MB in all; %d point lookups answered meanwhile, slowest %.1f ms."
    % (SLOW, STALLED, SECONDS_B, growth(b), split(b), b["read"] / 1e6, b["lookups"], b["worst_ms"]),
    "",
    "Targets: (b) adds <= 64 MB RSS: %s (VmRSS +%.0f MB, heap +%.0f MB); (a) ~2.5M rows/s: %.2fM "
    "rows/s; first byte < 50 ms: %s (%.1f ms)."
    % ("met" if growth(b) <= 64 else "NOT met", growth(b), b_anon, a["rows_s"] / 1e6,
       "met" if a["ttfb_ms"] < 50 else "NOT met", a["ttfb_ms"]),
]
os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
with open(OUT, "w") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
print("bench: stream figures written to %s" % OUT)
PY
