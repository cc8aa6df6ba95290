#!/usr/bin/env python3
"""
Graceful shutdown under load: every request the kernel accepted before SIGTERM is answered.

Usage: run.py BIN

Builds the demo database (`BIN demo --scale 0.1`) once, then for each round starts
`BIN serve` on it with two event loops (two SO_REUSEPORT listeners) and stops it (SIGSTOP), so
that what the clients do next waits in the kernel, whatever the machine's speed: it opens
CLIENTS connections at once (non-blocking connects; the kernel completes each handshake into
a listener's accept queue) and writes one GET to each. Once every connect has finished
(succeeded or refused) it reads the listeners' accept queue lengths from /proc/net/tcp{,6},
sends SIGTERM and then SIGCONT: the server wakes with hundreds of connections queued and the
shutdown pending. Then it reads every connection to its end and checks, per round:
  - every connection whose connect succeeded and whose request was written got a complete
    HTTP/1.1 200 response (status line, headers, all Content-Length bytes): 0 unanswered
    (a refused connect would be fine, but all connects finish before the SIGTERM);
  - the server exits with status 0 within server-shutdown-timeout-ms (plus a margin);
and over all rounds:
  - the stopping loops took connections from their accept queues (the server logs
    "shutdown: N connections taken from the accept queue"), so the test reached the backlog;
  - some responses said Connection: close (requests read after the SIGTERM).

Waits are for conditions (connects finished, sockets at EOF, the process exited), each
bounded by a deadline. Prints one `ok`/`FAIL` line per check, then `N passed, N failed`;
exit status 1 on a failure. Python 3 standard library only. HP_SERVER_ARGS adds arguments to
`serve`; HP_SHUTDOWN_CLIENTS and HP_SHUTDOWN_ROUNDS change the load (default 500, 3).
"""
import errno
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "spec"))
from run import Checks, Server  # noqa: E402  (the spec runner's server and checks)

CLIENTS = int(os.environ.get("HP_SHUTDOWN_CLIENTS", "500"))
ROUNDS = int(os.environ.get("HP_SHUTDOWN_ROUNDS", "3"))
HEAVY = 8  # clients whose read keeps a loop busy (see Client)
SHUTDOWN_TIMEOUT_MS = 20000
CONNECT_DEADLINE_S = 30.0
READ_DEADLINE_S = SHUTDOWN_TIMEOUT_MS / 1000.0 + 10.0


def accept_queue_length(port):
    """The connections waiting in the accept queues of the listening sockets on `port` (the
    rx_queue of a socket in state 0A, LISTEN, is its accept queue's length)."""
    total = 0
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.read().split("\n")[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 5 or fields[3] != "0A":
                continue
            if int(fields[1].rsplit(":", 1)[1], 16) != port:
                continue
            total += int(fields[4].split(":")[1], 16)
    return total


def parse_response(data):
    """(status, headers dict, is_complete) of one HTTP/1.1 response in `data`."""
    end = data.find(b"\r\n\r\n")
    if end == -1:
        return None, {}, False
    head = data[:end].decode("latin-1").split("\r\n")
    m = re.match(r"HTTP/1\.[01] (\d{3}) ", head[0] + " ")
    if not m:
        return None, {}, False
    headers = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    body = data[end + 4:]
    if "content-length" not in headers:
        return int(m.group(1)), headers, False
    return int(m.group(1)), headers, len(body) == int(headers["content-length"])


class Client:
    def __init__(self, number, port):
        self.number = number
        # Each client reads other rows, so no response comes from the cache. The first
        # HEAVY clients sort the whole table (no index): tens of milliseconds each, on the
        # loop, which accepts nothing meanwhile (more work for the loops when they wake).
        if number < HEAVY:
            query = "select=id,temperature&order=temperature.desc,ts&limit=1&offset=%d" % number
        else:
            query = "select=*&order=id&limit=100&offset=%d" % (number * 37)
        self.request = ("GET /readings?%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                        "Accept: application/json\r\n\r\n" % (query, port)).encode()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.state = "connecting"  # connecting, refused, written, done
        self.error = None
        self.data = b""

    def repro(self):
        return "client %d: %s" % (self.number, self.request.split(b"\r\n")[0].decode())


def run_round(binary, db, tmp, number, totals):
    """Returns the accept queue length seen right before SIGTERM (or 0 on a failed start)."""
    name = "round %d" % (number + 1)
    extra = os.environ.get("HP_SERVER_ARGS", "").split()
    server = Server(binary, db, ["--server-threads", "2", "--db-inline-budget-us", "1000000",
                                 "--server-shutdown-timeout-ms", str(SHUTDOWN_TIMEOUT_MS)] + extra,
                    os.path.join(tmp, "server-%d.log" % number))
    reason = server.start()
    if reason is not None:
        totals.check("%s: server starts" % name, [reason] + server.log_tail())
        return 0, 0

    # Stopped, the server accepts nothing: every connection waits in the accept queues.
    os.kill(server.proc.pid, signal.SIGSTOP)
    sel = selectors.DefaultSelector()
    clients = [Client(i, server.port) for i in range(CLIENTS)]
    for c in clients:
        rc = c.sock.connect_ex(("127.0.0.1", server.port))
        if rc in (0, errno.EINPROGRESS):
            sel.register(c.sock, selectors.EVENT_WRITE, c)
        else:
            c.state, c.error = "refused", os.strerror(rc)
    # Every connect finishes (the kernel either completed the handshake or refused it) before
    # the SIGTERM; a connect still pending would race with the listeners' close.
    deadline = time.monotonic() + CONNECT_DEADLINE_S
    pending = sum(1 for c in clients if c.state == "connecting")
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            c = key.data
            rc = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            sel.unregister(c.sock)
            pending -= 1
            if rc != 0:
                c.state, c.error = "refused", os.strerror(rc)
                continue
            try:
                c.sock.sendall(c.request)  # a few hundred bytes: the socket buffer takes them
                c.state = "written"
                sel.register(c.sock, selectors.EVENT_READ, c)
            except OSError as e:
                c.state, c.error = "refused", str(e)
    if pending:
        totals.check("%s: every connect finishes" % name,
                     ["%d connects still pending after %gs" % (pending, CONNECT_DEADLINE_S)])
        os.kill(server.proc.pid, signal.SIGCONT)
        server.kill()
        return 0, 0

    backlog = accept_queue_length(server.port)
    stop_at = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)  # pending until the server runs again
    os.kill(server.proc.pid, signal.SIGCONT)

    # Read every written connection to its end (EOF or error).
    open_count = sum(1 for c in clients if c.state == "written")
    deadline = time.monotonic() + READ_DEADLINE_S
    while open_count and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1.0):
            c = key.data
            try:
                chunk = c.sock.recv(65536)
            except OSError as e:
                chunk, c.error = b"", str(e)
            if chunk:
                c.data += chunk
                continue
            sel.unregister(c.sock)
            c.state = "done"
            open_count -= 1
    try:
        rc = server.proc.wait(timeout=max(0.0, stop_at + SHUTDOWN_TIMEOUT_MS / 1000.0 + 5.0
                                          - time.monotonic()))
    except subprocess.TimeoutExpired:
        rc = None
        server.kill()
    for c in clients:
        c.sock.close()
    sel.close()

    written = [c for c in clients if c.state in ("written", "done")]
    refused = [c for c in clients if c.state == "refused"]
    unanswered, closing = [], 0
    for c in written:
        status, headers, complete = parse_response(c.data)
        if status != 200 or not complete:
            unanswered.append("%s: %s (%d bytes%s)" % (
                c.repro(), "no response" if status is None else
                ("status %d" % status if status != 200 else "incomplete response"),
                len(c.data), ", " + c.error if c.error else ""))
        elif headers.get("connection", "").lower() == "close":
            closing += 1
    drained = sum(int(m) for m in re.findall(r"shutdown: (\d+) connections taken from the accept "
                                             r"queue", "\n".join(server.log_tail(10000))))
    totals.check("%s: every accepted request is answered" % name, unanswered,
                 "%d connected and written, %d refused; %d in the accept queues at SIGTERM, "
                 "%d taken from them by the stopping loops; %d answered with Connection: close"
                 % (len(written), len(refused), backlog, drained, closing))
    problems = []
    if rc is None:
        problems.append("the server did not exit within server-shutdown-timeout-ms (killed)")
    elif rc != 0:
        problems.append("the server exited with status %d" % rc)
    if problems:
        problems += server.log_tail()
    totals.check("%s: the server exits 0" % name, problems,
                 "%.2fs after SIGTERM" % (time.monotonic() - stop_at) if not problems else "")
    return drained, closing


def main(argv):
    if len(argv) != 2:
        print("usage: run.py BIN", file=sys.stderr)
        return 2
    binary = os.path.abspath(argv[1])
    totals = Checks()
    tmp = tempfile.mkdtemp(prefix="hotpath-shutdown.")
    try:
        db = os.path.join(tmp, "demo.db")
        mk = subprocess.run([binary, "demo", "--scale", "0.1", "--out", db],
                            capture_output=True, timeout=300)
        if mk.returncode != 0:
            totals.check("demo database", [mk.stderr.decode("utf-8", "replace").strip()])
        else:
            drained = closing = 0
            for number in range(ROUNDS):
                d, c = run_round(binary, db, tmp, number, totals)
                drained, closing = drained + d, closing + c
            # Over all rounds: the stopping loops took connections from their accept queues,
            # and requests read after the SIGTERM were answered with Connection: close.
            totals.check("the stopping loops took connections from their accept queues",
                         [] if drained > 0 else
                         ["none in %d rounds (server log 'connections taken from the accept "
                          "queue'): the test did not reach the backlog" % ROUNDS],
                         "%d over %d rounds" % (drained, ROUNDS))
            totals.check("requests read after SIGTERM are answered with Connection: close",
                         [] if closing > 0 else ["no response in %d rounds said Connection: close"
                                                 % ROUNDS],
                         "%d over %d rounds" % (closing, ROUNDS))
    finally:
        if os.environ.get("HP_SPEC_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (totals.passed, totals.failed))
    return 1 if totals.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
