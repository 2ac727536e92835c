"""Hostile and broken upstreams behind the reverse proxy (raw sockets in Python): smuggling
attempts never reach the upstream; garbage, early closes and silence give 502, 504 or a
closed connection, each with one log line naming the upstream, the address and the cause;
a kept connection the upstream closed is retried on a fresh one without the client
noticing; configurations naming unknown upstreams are refused."""
import os
import signal
import tempfile
import threading
import time
import unittest

import rftest
from proxy_helpers import Client, RawUpstream, read_head, request, wait_free_port


def answer_ok(conn, index, after_each=None):
    """A keep-alive upstream: "ok" to every request, until the proxy closes;
    `after_each(conn, index)` runs after each answer went out."""
    while True:
        head, _ = read_head(conn)
        if head is None:
            return
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        if after_each:
            after_each(conn, index)


def answer_with(data, then_wait=False):
    """Reads a request, sends `data`, then closes (or waits for the proxy to close)."""
    def answer(conn, index):
        head, _ = read_head(conn)
        if head is None:
            return
        conn.sendall(data)
        if then_wait:
            conn.settimeout(30)
            while conn.recv(65536):
                pass
    return answer


def never_answer(conn, index):
    read_head(conn)
    conn.settimeout(30)
    while conn.recv(65536):
        pass


def first_only(conn, index):
    """Answers the first request of each connection; the second one is read and the
    connection closed without an answer: the keep-alive race, every time."""
    head, _ = read_head(conn)
    if head is None:
        return
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nconn %d" % (len(b"conn %d" % index), index))
    read_head(conn)


class Smuggling(unittest.TestCase):
    ATTEMPTS = [
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4, 40\r\n\r\nabcd",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +4\r\n\r\nabcd",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabcd\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\nabcd\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcdef\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
    ]

    def test_refused_with_400_and_nothing_reaches_the_upstream(self):
        with RawUpstream(answer_ok) as up, \
                rftest.Server("--upstream", f"app={up.address}", "--proxy", "/=app", workers=1) as server:
            for attempt in self.ATTEMPTS:
                with Client(server.port) as c:
                    c.send(attempt)
                    r = c.response()
                    self.assertEqual(r.status, 400, attempt)
                    self.assertTrue(c.closed(), attempt)
            self.assertEqual((up.connections, up.received), (0, 0))
            # The same upstream does get a well-formed request.
            self.assertEqual(request(server.port, "POST", "/", b"abcd").body, b"ok")
            self.assertEqual(up.connections, 1)


class BrokenUpstreams(unittest.TestCase):
    def serve(self, answer, *flags):
        up = RawUpstream(answer)
        self.addCleanup(up.stop)
        server = rftest.Server("--upstream", f"bad={up.address}", "--proxy", "/=bad", *flags, workers=1)
        self.addCleanup(server.stop)
        return up, server

    def line(self, server, up, cause):
        return server.wait_log(rf"upstream bad 127\.0\.0\.1:{up.port}: {cause}")

    def test_garbage_gives_502(self):
        up, server = self.serve(answer_with(b"garbage\r\n\r\n"))
        self.assertEqual(request(server.port, "GET", "/").status, 502)
        self.line(server, up, r"malformed response \(status line\)")

    def test_ambiguous_framing_gives_502(self):
        up, server = self.serve(answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nokk"))
        self.assertEqual(request(server.port, "GET", "/").status, 502)
        self.line(server, up, r"malformed response \(two Content-Length fields\)")

    def test_close_in_the_head_gives_502(self):
        up, server = self.serve(answer_with(b"HTTP/1.1 200 OK\r\nContent-Le"))
        self.assertEqual(request(server.port, "GET", "/").status, 502)
        self.line(server, up, "closed in the response head")

    def test_close_mid_body_closes_the_client(self):
        up, server = self.serve(answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789"))
        with Client(server.port) as c:
            c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            data, closed = rftest.recv_until_close(c.sock, timeout=10)
        # The head had gone: the client sees the promised length cut short by the close.
        self.assertTrue(closed)
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK\r\n"), data)
        self.assertIn(b"\r\nContent-Length: 1000\r\n", data)
        self.assertTrue(data.endswith(b"\r\n\r\n0123456789"), data)
        self.line(server, up, "closed before the response body ended")

    def test_silence_gives_504(self):
        up, server = self.serve(never_answer, "--upstream-first-byte-timeout", "bad=1")
        r = request(server.port, "GET", "/", timeout=15)
        self.assertEqual(r.status, 504)
        self.line(server, up, r"no response within 1000 ms")
        # A POST too, and the connection is not reused for the next request.
        self.assertEqual(request(server.port, "POST", "/", b"x", timeout=15).status, 504)
        self.assertEqual(up.connections, 2)

    def test_silence_mid_body_closes_the_client(self):
        up, server = self.serve(answer_with(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", then_wait=True),
                                "--upstream-idle-timeout", "bad=1")
        with Client(server.port, timeout=15) as c:
            c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            data, closed = rftest.recv_until_close(c.sock, timeout=10)
        self.assertTrue(closed)
        self.assertTrue(data.endswith(b"\r\n\r\nabc"), data)
        self.line(server, up, r"silent for 1000 ms")

    def test_nothing_listening_gives_502_then_ejects(self):
        port = wait_free_port()
        server = rftest.Server("--upstream", f"bad=127.0.0.1:{port}", "--proxy", "/=bad", workers=1)
        self.addCleanup(server.stop)
        for _ in range(3):
            self.assertEqual(request(server.port, "GET", "/").status, 502)
        server.wait_log(rf"upstream bad 127\.0\.0\.1:{port}: connect: Connection refused")
        server.wait_log(rf"upstream bad 127\.0\.0\.1:{port}: ejected for 10 s after 3 failures in a row")
        self.assertEqual(server.count_log("connect: Connection refused"), 3)  # once per failure


class KeepAliveRace(unittest.TestCase):
    def test_a_kept_connection_the_upstream_closed_is_retried_on_a_fresh_one(self):
        with RawUpstream(first_only) as up, \
                rftest.Server("--upstream", f"app={up.address}", "--proxy", "/=app", workers=1) as server:
            self.assertEqual(request(server.port, "GET", "/").body, b"conn 0")
            # The kept connection is used, closed by the upstream after reading the request,
            # and the request goes again on a new connection: the client sees nothing of it.
            self.assertEqual(request(server.port, "GET", "/").body, b"conn 1")
            self.assertEqual(request(server.port, "POST", "/", b"data").body, b"conn 2")
            self.assertEqual(up.connections, 3)
            self.assertEqual(server.count_log(r"upstream app"), 0)


class StrayBytes(unittest.TestCase):
    def test_bytes_an_idle_connection_was_sent_never_reach_the_next_request(self):
        sent = threading.Event()

        def stray(conn, index):
            """Answers, then (once) sends a whole extra response nobody asked for."""
            def extra(conn, index):
                if index == 0:
                    time.sleep(0.2)  # the upstream's own misbehaviour, after the answer went out
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!")
                    sent.set()
            answer_ok(conn, index, after_each=extra)

        with RawUpstream(stray) as up, \
                rftest.Server("--upstream", f"app={up.address}", "--proxy", "/=app", workers=1) as server:
            self.assertEqual(request(server.port, "GET", "/").body, b"ok")
            self.assertTrue(sent.wait(10))
            # The idle connection's watch saw the bytes and closed it.
            rftest.wait_until(lambda: up.closed == 1, 10, what="the proxy to close the connection")
            self.assertEqual(request(server.port, "GET", "/").body, b"ok")
            self.assertEqual(up.connections, 2)


class ConfigurationRefused(unittest.TestCase):
    def test_unknown_upstream_at_start_and_on_reload(self):
        import subprocess
        r = subprocess.run([rftest.BIN, "--upstream", "app=127.0.0.1:1", "--proxy", "/=nope", "-t"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--proxy /=nope: no --upstream named 'nope'", r.stderr)
        with tempfile.TemporaryDirectory() as d, RawUpstream(answer_ok) as up:
            path = os.path.join(d, "rf.toml")
            with open(path, "w") as f:
                f.write(f'upstream = ["app={up.address}"]\nproxy = ["/=app"]\n')
            with rftest.Server("--config", path, workers=1) as server:
                self.assertEqual(request(server.port, "GET", "/").body, b"ok")
                with open(path, "w") as f:
                    f.write(f'upstream = ["app={up.address}"]\nproxy = ["/=app", "/=app"]\n')
                server.signal(signal.SIGHUP)
                server.wait_log(r"reload rejected: .*--proxy /: prefix given twice")
                self.assertEqual(request(server.port, "GET", "/").body, b"ok")


if __name__ == "__main__":
    rftest.main()
