#!/usr/bin/env python3
"""Static-file shapes side by side: a 13-byte file under each of the harness's load shapes
(64 keep-alive, 16-deep pipelining, 1,000 connections, a connection per request) and a
1 MiB file over 16 keep-alive connections, from nginx, h2o and ringfork --root, with the
harness's minimal responder beside them for the small file; one server
worker on CPU 0 and wrk on CPU 1, medians of several rounds.

Reuses ../shared/tools/compare_anchors.py (its set-up, server configs and measuring loop),
adding ringfork serving the same directory.

usage: bench/static_compare.py [--ringfork build/ringfork] [--rounds 3] [--secs 5]
                               [--shapes keepalive,pipeline,manyconns,close,big]
"""
import argparse
import os
import resource
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "shared", "tools"))
import compare_anchors as ca  # noqa: E402

# name -> (file, connections, pipeline depth, Connection: close)
SHAPES = {
    "keepalive": ("hello.txt", 64, 1, False),
    "pipeline": ("hello.txt", 64, 16, False),
    "manyconns": ("hello.txt", 1000, 1, False),
    "close": ("hello.txt", 64, 1, True),
    "big": ("big.bin", 16, 1, False),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringfork", default=os.path.join(HERE, "..", "build", "ringfork"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--shapes", default=",".join(SHAPES))
    a = ap.parse_args()
    shapes = [s for s in a.shapes.split(",") if s]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        sys.exit(f"unknown shapes: {' '.join(unknown)} (known: {' '.join(SHAPES)})")
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(65536, hard), hard))
    ca.setup()
    with open(f"{ca.WORK}/www/big.bin", "wb") as f:
        f.write(os.urandom(1 << 20))
    base = ca.servers("")
    ringfork = [os.path.abspath(a.ringfork), "--listen", "127.0.0.1:8185", "--workers", "1", "--root",
                f"{ca.WORK}/www"]
    # The ceiling answers any path with the same 13 bytes and does nothing else: the most
    # requests/s this client can drive in a shape, whatever the server.
    servers = {
        "ceiling": base["ceiling"][0],
        "nginx": base["nginx-file"][0],
        "h2o": base["h2o-file"][0],
        "ringfork": ringfork,
    }
    ports = {"ceiling": 8190, "nginx": 8181, "h2o": 8183, "ringfork": 8185}
    res = {}
    for _ in range(a.rounds):
        for shape in shapes:
            path, conns, depth, close = SHAPES[shape]
            for name, cmd in servers.items():
                if name == "ceiling" and path != "hello.txt":
                    continue  # it has no files
                url = f"http://127.0.0.1:{ports[name]}/{path}"
                res.setdefault((name, shape), []).append(ca.run_one(cmd, url, a.secs, conns, depth, close))
    print(f"{'shape':10} {'server':10} {'req/s':>10} {'MiB/s':>8} {'cpu_us/req':>10} {'vs best other':>13}  errors")
    for shape in shapes:
        path, conns, depth, close = SHAPES[shape]
        size = 13 if path == "hello.txt" else 1 << 20
        names = [n for n in servers if (n, shape) in res]
        rps = {name: statistics.median(x[0] for x in res[(name, shape)]) for name in names}
        for name in names:
            rs = res[(name, shape)]
            best_other = max(v for k, v in rps.items() if k not in (name, "ceiling"))
            print(f"{shape:10} {name:10} {rps[name]:10.0f} {rps[name] * size / (1 << 20):8.1f} "
                  f"{statistics.median(x[1] for x in rs):10.2f} {rps[name] / best_other:12.2f}x  "
                  f"{rs[-1][2]} non-2xx {rs[-1][3]}")


if __name__ == "__main__":
    main()
