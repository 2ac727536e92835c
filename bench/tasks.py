#!/usr/bin/env python3
"""Task pool benchmark (issue 7): throughput of a trivial job and the latency the pool adds.

Starts build/ringfork on 127.0.0.1:0 with `--task true=/bin/true --task echo=/bin/cat` and its
own spool in a temp dir, then:
  1. throughput: C keep-alive clients loop POST /tasks/true for D seconds -> jobs/s;
  2. added latency: M sequential POST /tasks/echo with a small body on one keep-alive
     connection, against M direct subprocess.run(["/bin/cat"], input=body); median and p99.
Prints a small table. Not a test: nothing is asserted beyond the responses being correct.
Loopback only; every loop is bounded by a count or a deadline.

usage: bench/tasks.py [--ringfork build/ringfork] [--clients 8] [--seconds 3]
                      [--task-workers N (default: CPUs)] [--workers 1] [--samples 300]
"""
import argparse
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BODY = b"ringfork task pool latency probe\n"


class Client:
    """A keep-alive HTTP/1.1 connection that reads Content-Length framed responses."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def post(self, path, body=b""):
        self.sock.sendall(f"POST {path} HTTP/1.1\r\nHost: b\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
        length = int(m.group(1)) if m else 0
        while len(self.buf) < length:
            self._more()
        out, self.buf = self.buf[:length], self.buf[length:]
        return status, out

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def close(self):
        self.sock.close()


def start_server(binary, spool, log_path, workers, task_workers):
    log = open(log_path, "w")
    p = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--workers", str(workers), "--demo",
                          "--task", "true=/bin/true", "--task", "echo=/bin/cat",
                          "--task-workers", str(task_workers), "--task-queue", "1024", "--task-spool", spool],
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        text = open(log_path).read()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", text)
        if m and re.search(r"ready: \d+ workers serving", text):
            return p, int(m.group(1))
        if p.poll() is not None:
            break
        time.sleep(0.02)
    stop_server(p)
    sys.exit(f"ringfork did not start:\n{open(log_path).read()}")


def stop_server(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


def throughput(port, clients, seconds):
    counts = [0] * clients
    errors = []
    start = threading.Barrier(clients + 1)
    stop_at = [0.0]

    def run(i):
        try:
            c = Client(port)
        except OSError as e:
            errors.append(e)
            start.wait()
            return
        start.wait()
        try:
            while time.monotonic() < stop_at[0]:
                status, body = c.post("/tasks/true")
                if status != 200:
                    errors.append(f"status {status}: {body[:80]!r}")
                    return
                counts[i] += 1
        except Exception as e:  # noqa: BLE001 - reported
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    stop_at[0] = time.monotonic() + seconds
    t0 = time.monotonic()
    start.wait()
    for t in threads:
        t.join(seconds + 30)
    elapsed = time.monotonic() - t0
    return sum(counts), elapsed, errors


def quantiles(samples):
    s = sorted(samples)
    return statistics.median(s), s[max(0, math.ceil(0.99 * len(s)) - 1)]


def latency(port, samples):
    pool = []
    c = Client(port)
    try:
        for _ in range(10):  # warm-up
            c.post("/tasks/echo", BODY)
        for _ in range(samples):
            t = time.perf_counter()
            status, body = c.post("/tasks/echo", BODY)
            pool.append(time.perf_counter() - t)
            if (status, body) != (200, BODY):
                sys.exit(f"POST /tasks/echo: {status} {body[:80]!r}")
    finally:
        c.close()
    direct = []
    for _ in range(10):
        subprocess.run(["/bin/cat"], input=BODY, capture_output=True, check=True)
    for _ in range(samples):
        t = time.perf_counter()
        r = subprocess.run(["/bin/cat"], input=BODY, capture_output=True, check=True)
        direct.append(time.perf_counter() - t)
        if r.stdout != BODY:
            sys.exit("cat returned something else")
    return pool, direct


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ringfork", default=os.path.join(os.path.dirname(__file__), "../build/ringfork"))
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--task-workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--samples", type=int, default=300)
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="rf-bench-tasks-")
    p, port = start_server(a.ringfork, os.path.join(tmp, "spool"), os.path.join(tmp, "ringfork.log"),
                           a.workers, a.task_workers)
    try:
        jobs, elapsed, errors = throughput(port, a.clients, a.seconds)
        pool, direct = latency(port, a.samples)
    finally:
        stop_server(p)
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"ringfork task pool: {a.workers} worker(s), {a.task_workers} task runner(s), "
          f"{os.cpu_count()} CPUs")
    print()
    print(f"throughput  POST /tasks/true (/bin/true), {a.clients} clients, {elapsed:.1f} s")
    print(f"  {jobs} jobs, {jobs / elapsed:,.0f} jobs/s" + (f", {len(errors)} errors: {errors[:3]}" if errors else ""))
    print()
    pm, pp = quantiles(pool)
    dm, dp = quantiles(direct)
    print(f"latency     {a.samples} sequential runs of cat with a {len(BODY)}-byte body")
    print(f"  {'':34} {'median':>9} {'p99':>9}")
    print(f"  {'POST /tasks/echo (pool)':34} {pm * 1e3:7.2f}ms {pp * 1e3:7.2f}ms")
    print(f"  {'subprocess.run(/bin/cat) (direct)':34} {dm * 1e3:7.2f}ms {dp * 1e3:7.2f}ms")
    print(f"  {'added by the pool':34} {(pm - dm) * 1e3:+7.2f}ms {(pp - dp) * 1e3:+7.2f}ms")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
