#!/usr/bin/env python3
"""Static-file shapes side by side: a 13-byte file and a 1 MiB file from nginx, h2o and
ringfork --root, one server worker on CPU 0 and wrk on CPU 1, medians of several rounds.

Reuses ../shared/tools/compare_anchors.py (its set-up, server configs and measuring loop),
adding ringfork serving the same directory.

usage: bench/static_compare.py [--ringfork build/ringfork] [--rounds 3] [--secs 5]
"""
import argparse
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "tools"))
import compare_anchors as ca  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringfork", default=os.path.join(HERE, "..", "build", "ringfork"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    a = ap.parse_args()
    ca.setup()
    with open(f"{ca.WORK}/www/big.bin", "wb") as f:
        f.write(os.urandom(1 << 20))
    base = ca.servers("")
    ringfork = [os.path.abspath(a.ringfork), "--listen", "127.0.0.1:8185", "--workers", "1", "--root",
                f"{ca.WORK}/www"]
    servers = {
        "nginx": base["nginx-file"][0],
        "h2o": base["h2o-file"][0],
        "ringfork": ringfork,
    }
    ports = {"nginx": 8181, "h2o": 8183, "ringfork": 8185}
    shapes = [("hello.txt", 64), ("big.bin", 16)]
    res = {}
    for _ in range(a.rounds):
        for path, conns in shapes:
            for name, cmd in servers.items():
                url = f"http://127.0.0.1:{ports[name]}/{path}"
                res.setdefault((name, path), []).append(ca.run_one(cmd, url, a.secs, conns, 1))
    print(f"{'server':10} {'file':10} {'conns':>5} {'req/s':>10} {'MiB/s':>8} {'cpu_us/req':>10}  errors")
    for path, conns in shapes:
        size = 13 if path == "hello.txt" else 1 << 20
        for name in servers:
            rs = res[(name, path)]
            rps = statistics.median(x[0] for x in rs)
            print(f"{name:10} {path:10} {conns:5} {rps:10.0f} {rps * size / (1 << 20):8.1f} "
                  f"{statistics.median(x[1] for x in rs):10.2f}  {rs[-1][3]}")


if __name__ == "__main__":
    main()
