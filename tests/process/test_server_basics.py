"""Black-box basics: demo routes, HEAD, pipelining, keep-alive rules, listen addresses,
command-line handling, a taken port and the pid file."""
import email.utils
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import rftest

PLAIN = b"Hello, World!"
JSON = b'{"message":"Hello, World!"}'
IMF_FIXDATE = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} GMT$")


def get(path, version="1.1", extra=""):
    return f"GET {path} HTTP/{version}\r\nHost: t\r\n{extra}\r\n".encode()


class HostConn(rftest.Conn):
    """rftest.Conn to any loopback host (for [::1])."""

    def __init__(self, host, port, timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.timeout = timeout


def ipv6_loopback():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False




def run_cli(args, timeout=10.0):
    """Runs ringfork with exactly these arguments; (rc, stdout, stderr). Fails if it keeps running."""
    p = subprocess.Popen([rftest.BIN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise AssertionError(f"ringfork {args} still running after {timeout}s:\n{out}\n{err}")
    return p.returncode, out, err


class DemoRoutes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = rftest.Server("--demo")

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def conn(self):
        c = rftest.Conn(self.server.port)
        self.addCleanup(c.close)
        return c

    def test_plaintext(self):
        c = self.conn()
        c.send(get("/plaintext"))
        status, h, body = c.response()
        self.assertEqual(status, 200)
        self.assertEqual(body, PLAIN)
        self.assertEqual(h.get("content-type"), "text/plain")
        self.assertEqual(h.get("content-length"), "13")
        self.assertTrue(h.get("server"), f"no Server header: {h}")
        date = h.get("date", "")
        self.assertRegex(date, IMF_FIXDATE)
        when = email.utils.parsedate_to_datetime(date).timestamp()
        self.assertLess(abs(when - time.time()), 5, f"Date {date!r} is far from now")

    def test_json(self):
        c = self.conn()
        c.send(get("/json"))
        status, h, body = c.response()
        self.assertEqual(status, 200)
        self.assertEqual(body, JSON)
        self.assertEqual(h.get("content-type"), "application/json")
        self.assertEqual(h.get("content-length"), str(len(JSON)))

    def test_unknown_paths_404(self):
        c = self.conn()
        for path in ("/nope", "/", "/plaintextx", "/json/", "/plain"):
            with self.subTest(path=path):
                c.send(get(path))
                status, h, body = c.response()
                self.assertEqual(status, 404, f"GET {path}")
        # The connection survived the 404s.
        c.send(get("/plaintext"))
        self.assertEqual(c.response()[2], PLAIN)

    def test_post_405(self):
        c = self.conn()
        c.send(b"POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
        status, h, body = c.response()
        self.assertEqual(status, 405)
        self.assertEqual(h.get("allow"), "GET, HEAD")
        c.send(get("/json"))
        status, h, body = c.response()
        self.assertEqual((status, body), (200, JSON))

    def test_head_then_get_pipelined(self):
        c = self.conn()
        c.send(b"HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\n" + get("/json"))
        status, h, body = c.response(head=True)
        self.assertEqual(status, 200)
        self.assertEqual(h.get("content-length"), "13")
        self.assertEqual(body, b"")
        self.assertTrue(c.buf == b"" or c.buf.startswith(b"HTTP/1.1 "),
                        f"bytes after the HEAD response head: {c.buf[:60]!r}")
        status, h, body = c.response()
        self.assertEqual((status, body), (200, JSON))
        self.assertEqual(c.buf, b"")

    def test_head_then_get_sequential(self):
        c = self.conn()
        c.send(b"HEAD /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        status, h, _ = c.response(head=True)
        self.assertEqual((status, h.get("content-length")), (200, "13"))
        c.send(get("/plaintext"))
        status, h, body = c.response()
        self.assertEqual((status, body), (200, PLAIN))
        self.assertEqual(c.buf, b"")

    def test_pipeline_16(self):
        c = self.conn()
        paths = ["/plaintext" if i % 2 == 0 else "/json" for i in range(16)]
        c.send(b"".join(get(p) for p in paths))
        for i, p in enumerate(paths):
            status, h, body = c.response()
            self.assertEqual(status, 200, f"response {i}")
            self.assertEqual(body, PLAIN if p == "/plaintext" else JSON, f"response {i} out of order")
        self.assertEqual(c.buf, b"")
        # Still usable afterwards.
        c.send(get("/json"))
        self.assertEqual(c.response()[2], JSON)

    def test_keep_alive_then_close(self):
        c = self.conn()
        for i in range(5):
            c.send(get("/plaintext" if i % 2 == 0 else "/json"))
            status, h, body = c.response()
            self.assertEqual(status, 200)
            self.assertNotEqual(h.get("connection", "").lower(), "close", f"request {i}")
        c.send(get("/plaintext", extra="Connection: close\r\n"))
        status, h, body = c.response()
        self.assertEqual((status, body), (200, PLAIN))
        self.assertEqual(h.get("connection", "").lower(), "close")
        self.assertTrue(c.closed(3.0), "server kept the connection open after Connection: close")
        self.assertEqual(c.buf, b"")

    def test_http10_closes(self):
        c = self.conn()
        c.send(b"GET /plaintext HTTP/1.0\r\n\r\n")
        status, h, body = c.response()
        self.assertEqual((status, body), (200, PLAIN))
        self.assertNotEqual(h.get("connection", "").lower(), "keep-alive")
        self.assertTrue(c.closed(3.0), "HTTP/1.0 without keep-alive was not closed")

    def test_http10_keep_alive(self):
        c = self.conn()
        c.send(b"GET /plaintext HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        status, h, body = c.response()
        self.assertEqual((status, body), (200, PLAIN))
        self.assertEqual(h.get("connection", "").lower(), "keep-alive")
        c.send(b"GET /json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        status, h, body = c.response()
        self.assertEqual((status, body), (200, JSON))
        self.assertEqual(h.get("connection", "").lower(), "keep-alive")
        c.send(b"GET /json HTTP/1.0\r\n\r\n")
        status, h, body = c.response()
        self.assertEqual((status, body), (200, JSON))
        self.assertTrue(c.closed(3.0), "HTTP/1.0 request without keep-alive did not close")


class EmbeddedDefault(unittest.TestCase):
    def check_default(self, host, port):
        with HostConn(host, port) as c:
            c.send(get("/"))
            status, h, body = c.response()
            self.assertEqual(status, 200)
            self.assertTrue(h.get("content-type", "").startswith("text/html"), h)
            self.assertIn(b"ringfork", body)
            c.send(get("/plaintext"))
            status, h, body = c.response()
            self.assertEqual((status, body), (200, PLAIN))
            c.send(get("/json"))
            self.assertEqual(c.response()[2], JSON)

    def test_default_content(self):
        with rftest.Server() as s:
            self.check_default("127.0.0.1", s.port)

    def test_no_arguments_at_all(self):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind(("127.0.0.1", 8080))
        except OSError:
            self.skipTest("127.0.0.1:8080 is taken")
        finally:
            probe.close()
        with rftest.Server(listen=None, workers=None) as s:
            self.assertEqual(s.ports, [8080])
            self.assertRegex(s.log(), r"listening on 127\.0\.0\.1:8080 with")
            self.check_default("127.0.0.1", 8080)
            s.signal(signal.SIGTERM)
            self.assertEqual(s.wait_exit(10), 0)


class Addresses(unittest.TestCase):
    def test_ipv6(self):
        if not ipv6_loopback():
            self.skipTest("::1 unavailable")
        with rftest.Server("--demo", listen="[::1]:0") as s:
            self.assertRegex(s.log(), r"listening on \[::1\]:\d+ with")
            with HostConn("::1", s.port) as c:
                c.send(get("/plaintext"))
                self.assertEqual(c.response()[:3:2], (200, PLAIN))

    def test_two_listen_addresses(self):
        if not ipv6_loopback():
            self.skipTest("::1 unavailable")
        with rftest.Server("--demo", "--listen", "127.0.0.1:0", "--listen", "[::1]:0", listen=None) as s:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+), \[::1\]:(\d+) with", s.log())
            self.assertIsNotNone(m, s.log())
            p4, p6 = int(m.group(1)), int(m.group(2))
            self.assertNotEqual(p4, 0)
            self.assertNotEqual(p6, 0)
            for host, port in (("127.0.0.1", p4), ("::1", p6)):
                for i in range(4):  # new connections, so both workers' sockets get a turn
                    with HostConn(host, port) as c:
                        c.send(get("/json"))
                        status, h, body = c.response()
                        self.assertEqual((status, body), (200, JSON), f"{host} port {port}")


class CommandLine(unittest.TestCase):
    def test_version(self):
        rc, out, err = run_cli(["--version"])
        self.assertEqual(rc, 0, err)
        self.assertRegex(out, r"^ringfork \d+\.\d+\.\d+")

    def test_help(self):
        rc, out, err = run_cli(["--help"])
        self.assertEqual(rc, 0, err)
        self.assertIn("--listen", out)
        self.assertIn("usage", out.lower())

    def assert_one_line_error(self, args, needle, rc_expected=None):
        rc, out, err = run_cli(args)
        self.assertNotEqual(rc, 0, f"{args}: exit 0\n{out}{err}")
        if rc_expected is not None:
            self.assertEqual(rc, rc_expected, f"{args}: {err!r}")
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, f"{args}: stderr is not one line: {err!r}")
        self.assertIn(needle, lines[0])
        self.assertNotIn("listening on", out + err)

    def test_unknown_flag(self):
        self.assert_one_line_error(["--bogus-flag"], "--bogus-flag", 2)

    def test_unknown_flag_after_valid_ones(self):
        self.assert_one_line_error(["--listen", "127.0.0.1:0", "--frobnicate", "3"], "--frobnicate", 2)

    def test_workers_zero(self):
        self.assert_one_line_error(["--listen", "127.0.0.1:0", "--workers", "0"], "--workers")

    def test_listen_nonsense(self):
        self.assert_one_line_error(["--listen", "nonsense", "--workers", "1"], "nonsense")

    def test_missing_value(self):
        self.assert_one_line_error(["--workers"], "--workers")


class PortInUse(unittest.TestCase):
    def test_address_in_use(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
            holder.bind(("127.0.0.1", 0))
            holder.listen(8)
            port = holder.getsockname()[1]
            with rftest.Server("--demo", listen=f"127.0.0.1:{port}", ready=False) as s:
                rc = s.wait_exit(5)
                s.wait_log(r"Address already in use", 2)
                log = s.log()
                self.assertNotEqual(rc, 0, log)
                self.assertIn(f"127.0.0.1:{port}", log)
                self.assertNotIn("ready:", log)
                self.assertEqual(rftest.session_pids(s.pid), [], "ringfork processes left behind")
            # The holder still owns the port and still accepts.
            with socket.create_connection(("127.0.0.1", port), timeout=2):
                pass


class PidFile(unittest.TestCase):
    def test_pid_file(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ringfork.pid")
            with rftest.Server("--demo", "--pid-file", path) as s:
                with open(path) as f:
                    self.assertEqual(f.read().strip(), str(s.pid))
                s.signal(signal.SIGTERM)
                self.assertEqual(s.wait_exit(10), 0)
                self.assertFalse(os.path.exists(path), "pid file left after TERM")
                self.assertEqual(os.listdir(d), [], "stray files left in the pid file's directory")


if __name__ == "__main__":
    rftest.main()
