#!/usr/bin/env python3
"""Memory benchmark: RSS of an idle worker, and the cost of N idle keep-alive connections.

Starts build/ringfork with one worker, measures the worker's RSS, opens N keep-alive
connections that each complete one request (so every one is accepted and served), and
measures again. Loopback only; the loop is bounded by N and a deadline.

usage: bench/memory.py [--ringfork build/ringfork] [--conns 10000]
"""
import argparse, os, re, resource, socket, subprocess, sys, time

from server_log import wait_ready


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def children(pid):
    out = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        out += [int(x) for x in open(f"/proc/{pid}/task/{tid}/children").read().split()]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringfork", default="build/ringfork")
    ap.add_argument("--conns", type=int, default=10000)
    a = ap.parse_args()
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, a.conns + 1000), hard))
    p = subprocess.Popen([a.ringfork, "--listen", "127.0.0.1:0", "--workers", "1", "--demo",
                          "--max-connections", str(a.conns + 100)],
                         stderr=subprocess.PIPE, text=True, start_new_session=True)
    port = wait_ready(p.stderr, r"listening on 127\.0\.0\.1:(\d+)", 10)
    try:
        # The HTTP worker, not a task runner (both are children of the master).
        worker = [c for c in children(p.pid) if open(f"/proc/{c}/comm").read().strip() == "rf-worker"][0]
        req = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n"
        # Warm the path once so first-touch costs are not charged to the connections.
        s = socket.create_connection(("127.0.0.1", port)); s.sendall(req); s.recv(4096); s.close()
        time.sleep(0.5)
        idle = rss_kb(worker)
        socks = []
        t0 = time.monotonic()
        for i in range(a.conns):
            if time.monotonic() - t0 > 120:
                break
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(req)
            socks.append(s)
        for s in socks:
            s.settimeout(5)
            got = b""
            while not got.endswith(b"Hello, World!"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        time.sleep(0.5)
        loaded = rss_kb(worker)
        n = len(socks)
        print(f"idle worker RSS: {idle / 1024:.1f} MiB")
        print(f"with {n} idle keep-alive connections: {loaded / 1024:.1f} MiB "
              f"({(loaded - idle) * 1024 / max(n, 1):.0f} bytes per connection)")
        for s in socks:
            s.close()
    finally:
        p.terminate()
        p.wait(10)


if __name__ == "__main__":
    main()
