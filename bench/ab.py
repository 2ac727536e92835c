#!/usr/bin/env python3
"""A/B of two ringfork builds (or two routes) under the side-by-side harness's shapes.

Runs each server pinned to CPU 0 with one worker and wrk on CPU 1, alternating A and B
round by round, and prints the median requests/s and server CPU microseconds per request
of each, with B/A. Uses ../shared/tools/compare_anchors.py's measurement (whole process
tree's CPU time over requests).

usage: bench/ab.py --a "build-old/ringfork --demo" --b "build/ringfork --demo" [--path /plaintext]
                   [--b-path /hello/world] [--rounds 5] [--secs 4] [--shapes keepalive,pipeline]
"""
import argparse, os, shlex, statistics, sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../../shared/tools"))
import compare_anchors as ca  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True, help="command of A (without --listen/--workers)")
    ap.add_argument("--b", required=True, help="command of B")
    ap.add_argument("--path", default="/plaintext")
    ap.add_argument("--b-path", default="", help="B's path when it differs")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--secs", type=int, default=4)
    ap.add_argument("--shapes", default="keepalive,pipeline")
    a = ap.parse_args()
    ca.setup()
    named = {"keepalive": (64, 1, False), "pipeline": (64, 16, False), "manyconns": (1000, 1, False),
             "close": (64, 1, True)}
    shapes = [named[s] for s in a.shapes.split(",")]
    servers = {
        "A": (shlex.split(a.a) + ["--listen", "127.0.0.1:8191", "--workers", "1"], f"http://127.0.0.1:8191{a.path}"),
        "B": (shlex.split(a.b) + ["--listen", "127.0.0.1:8192", "--workers", "1"],
              f"http://127.0.0.1:8192{a.b_path or a.path}"),
    }
    res = {}
    for _ in range(a.rounds):
        for shape in shapes:
            for name, (cmd, url) in servers.items():
                res.setdefault((name, shape), []).append(ca.run_one(cmd, url, a.secs, *shape))
    print(f"{'shape':10} {'':2} {'req/s':>10} {'cpu_us/req':>10}  non2xx errors")
    for label, shape in zip(a.shapes.split(","), shapes):
        med = {}
        for name in servers:
            rs = res[(name, shape)]
            med[name] = (statistics.median(x[0] for x in rs), statistics.median(x[1] for x in rs))
            print(f"{label:10} {name:2} {med[name][0]:10.0f} {med[name][1]:10.2f}  {rs[-1][2]:>6} {rs[-1][3]}")
        print(f"{label:10} B/A cpu_us/req {med['B'][1] / med['A'][1]:.3f}, req/s {med['B'][0] / med['A'][0]:.3f}")


if __name__ == "__main__":
    main()
