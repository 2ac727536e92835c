"""What the raw-socket HTTP/1.1 tests share: the small limits of their --demo server, the
request pieces they build messages from, a connection that also reports the response's
version and raw head (RawConn), and a test case class with one such server and a worker
that must never die (ServerCase)."""
import socket
import time
import unittest

import rftest

# Limits of the shared server; test_conformance.py computes its limit cases from them.
MAX_REQUEST_LINE = 256
MAX_HEADER_BYTES = 1024
MAX_HEADERS = 10
MAX_BODY = 1024
LIMIT_ARGS = ("--max-request-line", str(MAX_REQUEST_LINE), "--max-header-bytes", "1k",
              "--max-headers", str(MAX_HEADERS), "--max-body", "1k")

HOST = b"Host: a\r\n"
GET = b"GET /plaintext HTTP/1.1\r\n"
OK = GET + HOST + b"\r\n"  # a good request
HELLO = b"Hello, World!"
CHUNKED = b"Transfer-Encoding: chunked\r\n"


class RawConn(rftest.Conn):
    """rftest.Conn that also reports the response's HTTP version and raw header lines."""

    def response_full(self, head=False):
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            self._more(deadline)
        head_bytes = self.buf.split(b"\r\n\r\n", 1)[0]
        version = head_bytes.split(b" ", 1)[0].decode("latin-1")
        status, headers, body = self.response(head=head)
        return version, status, headers, body, head_bytes

    def recv_for(self, seconds):
        """Everything that arrives within `seconds` (appended to buf too)."""
        deadline = time.monotonic() + seconds
        got = b""
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            got += chunk
        self.buf += got
        return got


class ServerCase(unittest.TestCase):
    """Shares one --demo server with one worker per class; checks the worker never died."""
    ARGS = ()

    @classmethod
    def setUpClass(cls):
        cls.server = rftest.Server("--demo", *cls.ARGS, workers=1)
        cls.worker_pids = rftest.wait_until(lambda: sorted(cls.server.workers()), what="worker pid")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def conn(self, timeout=3.0):
        return RawConn(self.server.port, timeout=timeout)

    def assert_healthy(self):
        self.assertIsNone(self.server.proc.poll(), "master exited")
        self.assertEqual(sorted(self.server.workers()), self.worker_pids,
                         f"worker died or was replaced:\n{self.server.log()[-2000:]}")
        with self.conn() as c:
            c.send(OK)
            version, status, headers, body, _ = c.response_full()
            self.assertEqual((version, status, body), ("HTTP/1.1", 200, HELLO))
            self.assertIn("date", headers)  # RFC 9110 §6.6.1: an origin server with a clock MUST send Date
