"""Black-box accept modes: with --accept reuseport and --accept shared, connections are
spread over both workers, both for a burst of concurrent connections and for connections
opened one after another. Counted server-side as open socket fds per worker pid."""
import os
import signal
import unittest

import rftest

PLAIN = b"Hello, World!"
REQUEST = b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"


class AcceptSpread(unittest.TestCase):
    def start(self, mode):
        s = rftest.Server("--demo", "--accept", mode, workers=2)
        self.addCleanup(s.stop)
        self.assertRegex(s.log(), rf"with 2 workers \({mode} accept\)")
        workers = rftest.wait_until(lambda: (lambda w: w if len(w) == 2 else None)(s.workers()),
                                    5, what="2 workers")
        base = {p: rftest.socket_fds(p) for p in workers}
        return s, base

    def conns(self):
        opened = []

        def close_all():
            for c in opened:
                c.close()
        self.addCleanup(close_all)
        return opened

    def spread(self, s, base, expected):
        """Per-worker count of connection fds above the baseline, once they add up to expected."""
        def settled():
            if sorted(s.workers()) != sorted(base):
                raise AssertionError(f"worker set changed: {s.workers()} vs {sorted(base)}\n{s.log()}")
            d = {p: rftest.socket_fds(p) - n for p, n in base.items()}
            return d if sum(d.values()) == expected else None
        return rftest.wait_until(settled, 5, what=f"{expected} connections held by the workers")

    def concurrent(self, mode, n=40, least=4):
        s, base = self.start(mode)
        opened = self.conns()
        for _ in range(n):  # all connected before any request: a burst in the accept queue(s)
            opened.append(rftest.Conn(s.port))
        for c in opened:
            c.send(REQUEST)
        for i, c in enumerate(opened):
            status, h, body = c.response()
            self.assertEqual((status, body), (200, PLAIN), f"connection {i}")
        d = self.spread(s, base, n)
        print(f"\n  {mode}, {n} concurrent connections per worker: {sorted(d.values())}", flush=True)
        for p, k in d.items():
            self.assertGreaterEqual(k, least, f"{mode}: worker {p} holds {k} of {n} connections: {d}")

    def sequential(self, mode, n=100, least=10):
        s, base = self.start(mode)
        opened = self.conns()
        for i in range(n):  # one after another, each answered before the next connects; all kept open
            c = rftest.Conn(s.port)
            opened.append(c)
            c.send(REQUEST)
            status, h, body = c.response()
            self.assertEqual((status, body), (200, PLAIN), f"connection {i}")
        d = self.spread(s, base, n)
        print(f"\n  {mode}, {n} sequential connections per worker: {sorted(d.values())}", flush=True)
        for p, k in d.items():
            self.assertGreaterEqual(k, least, f"{mode}: worker {p} holds {k} of {n} connections: {d}")
        # Every kept connection is still served.
        for i, c in enumerate(opened):
            c.send(REQUEST)
        for i, c in enumerate(opened):
            self.assertEqual(c.response()[2], PLAIN, f"second request on connection {i}")

    def backlog_burst(self, mode, n=40, least=4):
        """Connections that queue up while both workers are stopped (as if busy) and are
        accepted together once they run again still end up on both workers."""
        s, base = self.start(mode)
        opened = self.conns()
        for p in base:
            os.kill(p, signal.SIGSTOP)
        try:
            for _ in range(n):
                c = rftest.Conn(s.port)
                opened.append(c)
                c.send(REQUEST)
        finally:
            for p in base:
                os.kill(p, signal.SIGCONT)
        for i, c in enumerate(opened):
            status, h, body = c.response()
            self.assertEqual((status, body), (200, PLAIN), f"connection {i}")
        d = self.spread(s, base, n)
        print(f"\n  {mode}, backlog of {n} per worker: {sorted(d.values())}", flush=True)
        for p, k in d.items():
            self.assertGreaterEqual(k, least, f"{mode}: worker {p} holds {k} of {n} connections: {d}")

    def test_reuseport_backlog_burst(self):
        self.backlog_burst("reuseport")

    def test_shared_backlog_burst(self):
        self.backlog_burst("shared")

    def test_reuseport_concurrent(self):
        self.concurrent("reuseport")

    def test_shared_concurrent(self):
        self.concurrent("shared")

    def test_reuseport_sequential(self):
        self.sequential("reuseport")

    def test_shared_sequential(self):
        self.sequential("shared")


if __name__ == "__main__":
    rftest.main()
