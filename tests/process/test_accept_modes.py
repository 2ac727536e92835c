"""Black-box accept modes: with --accept reuseport and --accept shared, connections are
spread over both workers, both for a burst of concurrent connections and for connections
opened one after another. Counted server-side as open socket fds per worker pid.
--defer-accept: the listeners' TCP_DEFER_ACCEPT, read back from the master's sockets, and
a connection that sends nothing is still accepted and served."""
import ctypes
import os
import signal
import socket
import tempfile
import unittest

import rftest

PLAIN = b"Hello, World!"
REQUEST = b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"


def assert_answered(test, conns):
    """The next response on every connection is 200 with the plaintext body."""
    for i, c in enumerate(conns):
        status, _, body = c.response()
        test.assertEqual((status, body), (200, PLAIN), f"connection {i}")


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

    def assert_spread(self, s, base, mode, n, least, label):
        """Each worker holds at least `least` of the n connections."""
        d = self.spread(s, base, n)
        print(f"\n  {mode}, {label} per worker: {sorted(d.values())}", flush=True)
        for p, k in d.items():
            self.assertGreaterEqual(k, least, f"{mode}: worker {p} holds {k} of {n} connections: {d}")


    def concurrent(self, mode, n=40, least=4):
        s, base = self.start(mode)
        opened = self.conns()
        for _ in range(n):  # all connected before any request: a burst in the accept queue(s)
            opened.append(rftest.Conn(s.port))
        for c in opened:
            c.send(REQUEST)
        assert_answered(self, opened)
        self.assert_spread(s, base, mode, n, least, f"{n} concurrent connections")

    def sequential(self, mode, n=100, least=10):
        s, base = self.start(mode)
        opened = self.conns()
        for i in range(n):  # one after another, each answered before the next connects; all kept open
            c = rftest.Conn(s.port)
            opened.append(c)
            c.send(REQUEST)
            status, h, body = c.response()
            self.assertEqual((status, body), (200, PLAIN), f"connection {i}")
        self.assert_spread(s, base, mode, n, least, f"{n} sequential connections")
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
        assert_answered(self, opened)
        self.assert_spread(s, base, mode, n, least, f"backlog of {n}")

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



ADMIN = r"admin: http://127\.0\.0\.1:(\d+)/"
SYS_PIDFD_GETFD = 438


def listener_defer_values(pid, port):
    """TCP_DEFER_ACCEPT (seconds, as the kernel reports it) of each of pid's listening
    sockets on port, read through duplicates taken with pidfd_getfd."""
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    values = []
    try:
        for name in os.listdir(f"/proc/{pid}/fd"):
            try:
                if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                    continue
            except OSError:
                continue
            fd = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(name), 0)
            if fd < 0:
                raise OSError(ctypes.get_errno(), f"pidfd_getfd({pid}, {name})")
            s = socket.socket(fileno=fd)
            try:
                if (s.family == socket.AF_INET and s.type == socket.SOCK_STREAM
                        and s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN)
                        and s.getsockname()[1] == port):
                    values.append(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT))
            finally:
                s.close()
    finally:
        os.close(pidfd)
    return values


class DeferAccept(unittest.TestCase):
    def start(self, *args):
        s = rftest.Server("--demo", "--admin", "127.0.0.1:0", *args, workers=2)
        self.addCleanup(s.stop)
        s.admin_port = int(s.wait_log(ADMIN).group(1))
        return s

    def accepted(self, s):
        return rftest.admin_stats(s.admin_port)["totals"]["connections_accepted"]

    def test_on_by_default_on_every_listener(self):
        s = self.start()
        values = listener_defer_values(s.pid, s.port)
        self.assertEqual(len(values), 2, "one reuseport listener per worker slot")
        self.assertTrue(all(v > 0 for v in values), values)

    def test_zero_turns_it_off(self):
        s = self.start("--defer-accept", "0", "--accept", "shared")
        values = listener_defer_values(s.pid, s.port)
        self.assertEqual(values, [0])

    def test_silent_connection_is_still_accepted_and_served(self):
        # The kernel holds a connection without data for about the deferral, then hands it
        # over anyway; it must then be served like any other.
        s = self.start("--defer-accept", "1")
        before = self.accepted(s)
        c = rftest.Conn(s.port)
        self.addCleanup(c.close)
        rftest.wait_until(lambda: self.accepted(s) > before, 10, what="the silent connection accepted")
        c.send(REQUEST)
        status, _, body = c.response()
        self.assertEqual((status, body), (200, PLAIN))

    def test_scale_down_keeps_silent_connections(self):
        # Connections still deferred in the retiring slot's socket when TTOU arrives reach
        # its queue only with their first bytes; the retiring worker keeps taking them for
        # the deferral, so a request sent right after the scale-down is still answered.
        s = self.start("--defer-accept", "1")
        conns = []
        self.addCleanup(lambda: [c.close() for c in conns])
        for _ in range(16):
            conns.append(rftest.Conn(s.port))
        s.signal(signal.SIGTTOU)
        s.wait_log(r"scale: 1 worker\b", 5)
        for c in conns:
            c.send(REQUEST)
        assert_answered(self, conns)

    def test_reload_applies_a_changed_value(self):
        tmp = tempfile.TemporaryDirectory(prefix="rf-defer-")
        self.addCleanup(tmp.cleanup)
        cfg = os.path.join(tmp.name, "ringfork.toml")
        with open(cfg, "w") as f:
            f.write("defer-accept = 0\n")
        s = self.start("--config", cfg)
        self.assertEqual(listener_defer_values(s.pid, s.port), [0, 0])
        with open(cfg, "w") as f:
            f.write("defer-accept = 3\n")
        s.signal(signal.SIGHUP)
        rftest.wait_until(lambda: all(v > 0 for v in listener_defer_values(s.pid, s.port)), 10,
                          what="TCP_DEFER_ACCEPT set on the listeners after HUP")

if __name__ == "__main__":
    rftest.main()
