#!/usr/bin/env python3
"""Instructions per request in the worker, counted by valgrind's callgrind: repeatable on
these noisy machines, where timings move 2-3x between runs.

Starts the server under callgrind with one worker, sends N requests (pipelined 16 deep on
one keep-alive connection, or one per connection with --close), stops it, and reports the
worker's instruction count per request from two runs (N and 0 requests), so start-up
cancels out. Loopback only; bounded.

usage: bench/instructions.py --cmd "build/ringfork --demo" [--path /plaintext] [--requests 20000]
                             [--depth 16]
"""
import argparse, glob, os, re, shlex, signal, socket, subprocess, sys, tempfile, time

from server_log import wait_ready


def worker_ir(cmd, path, requests, depth, port):
    out = tempfile.mkdtemp(prefix="rf-cg-")
    p = subprocess.Popen(["valgrind", "--tool=callgrind", "--trace-children=yes",
                          f"--callgrind-out-file={out}/cg.%p"] + cmd +
                         ["--listen", f"127.0.0.1:{port}", "--workers", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    worker = wait_ready(p.stderr, r"\[worker 0 (\d+)\]", 60)
    req = f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(req)  # warm the path once in every run, so both runs share it
    s.recv(65536)
    left = requests
    while left > 0:
        n = min(depth, left)
        s.sendall(req * n)
        got = 0
        buf = b""
        while got < n:
            buf += s.recv(65536)
            got = buf.count(b"HTTP/1.1 ")
        left -= n
    s.close()
    os.killpg(p.pid, signal.SIGTERM)
    p.wait(60)
    files = glob.glob(f"{out}/cg.{worker}")
    if not files:
        sys.exit(f"no callgrind output for the worker (pid {worker}) in {out}")
    text = open(files[0]).read()
    total = re.search(r"^summary:\s+(\d+)", text, re.M) or re.search(r"^totals:\s+(\d+)", text, re.M)
    return int(total.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cmd", required=True)
    ap.add_argument("--path", default="/plaintext")
    ap.add_argument("--requests", type=int, default=20000)
    ap.add_argument("--depth", type=int, default=16)
    ap.add_argument("--port", type=int, default=18195)
    a = ap.parse_args()
    cmd = shlex.split(a.cmd)
    base = worker_ir(cmd, a.path, 0, a.depth, a.port)
    loaded = worker_ir(cmd, a.path, a.requests, a.depth, a.port)
    print(f"{a.cmd} {a.path}: {(loaded - base) / a.requests:.0f} instructions per request "
          f"(pipelined {a.depth} deep, {a.requests} requests)")


if __name__ == "__main__":
    main()
