"""The reverse proxy with real upstreams (Node's http module, Python's http.server) on
loopback: requests and responses both ways, re-framing, forwarding fields, slow upstreams."""
import http.server
import json
import os
import tempfile
import threading
import unittest

import rftest
from proxy_helpers import Client, NodeApp, request


def header_pairs(raw):
    """Node's rawHeaders list as (lower-case name, value) pairs."""
    return [(raw[i].lower(), raw[i + 1]) for i in range(0, len(raw), 2)]


class PythonUpstream:
    """Python's http.server (HTTP/1.1, threaded) answering POST with the body's length."""

    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = f"python got {len(data)} bytes: {data[:20].decode(errors='replace')}".encode()
                self.send_response(201)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("X-Upstream", "python")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                body = b"python says hi"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class ProxyBasics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = NodeApp()
        cls.py = PythonUpstream()
        cls.server = rftest.Server("--upstream", f"node={cls.node.address}", "--upstream", f"py=127.0.0.1:{cls.py.port}",
                                   "--proxy", "/=node", "--proxy", "/py=py", "--demo", workers=1)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.node.stop()
        cls.py.stop()

    def test_get_and_post_through_node(self):
        r = request(self.server.port, "GET", "/hello")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, f"Hello from node {self.node.pid}".encode())
        self.assertEqual(r.header("server"), "ringfork")
        self.assertEqual(r.framing, "chunked")  # Node chunks it: no length known, so re-chunked
        self.assertEqual(request(self.server.port, "GET", "/echo-headers").framing, "length")
        # Node streams an echo with chunked framing: relayed re-chunked by ringfork.
        body = os.urandom(300_000)
        r = request(self.server.port, "POST", "/echo", body)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.framing, "chunked")
        self.assertEqual(r.body, body)
        r = request(self.server.port, "PUT", "/echo", b"x" * 10)
        self.assertEqual(r.body, b"x" * 10)
        # The upstream's own statuses pass; HEAD keeps the length without a body.
        self.assertEqual(request(self.server.port, "GET", "/nothing-here").status, 404)
        r = request(self.server.port, "GET", "/status?code=418")
        self.assertEqual(r.status, 418)
        r = request(self.server.port, "HEAD", "/download?size=12345")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-length"), "12345")

    def test_get_and_post_through_python(self):
        r = request(self.server.port, "GET", "/py/anything")
        self.assertEqual((r.status, r.body), (200, b"python says hi"))
        r = request(self.server.port, "POST", "/py/form", b"a=1&b=2")
        self.assertEqual(r.status, 201)
        self.assertEqual(r.body, b"python got 7 bytes: a=1&b=2")
        self.assertEqual(r.header("x-upstream"), "python")
        # A chunked request body reaches an upstream that reads Content-Length only:
        # ringfork had it whole, so it sent it with its length.
        with Client(self.server.port) as c:
            c.send(b"POST /py/x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            r = c.response()
        self.assertEqual(r.body, b"python got 5 bytes: abcde")

    def test_longest_prefix_and_built_in_routes(self):
        self.assertEqual(request(self.server.port, "GET", "/py").body, b"python says hi")
        self.assertEqual(request(self.server.port, "GET", "/pyx").body, b"not here")  # Node's: whole segments only
        # An exact built-in route is more specific than the proxy's "/".
        self.assertEqual(request(self.server.port, "GET", "/plaintext").body, b"Hello, World!")
        self.assertEqual(request(self.server.port, "TRACE", "/hello").status, 405)

    def test_hop_by_hop_fields_dropped_and_forwarding_fields_set(self):
        r = request(self.server.port, "GET", "/echo-headers?q=1", headers=[
            "Connection: keep-alive, X-Private", "X-Private: secret", "Keep-Alive: timeout=5",
            "TE: trailers", "Upgrade: websocket", "Proxy-Authorization: Basic eA==", "Proxy-Connection: x",
            "X-Forwarded-For: 203.0.113.9", "X-Forwarded-Proto: https", "X-Forwarded-Host: evil",
            "X-Custom: kept"])
        seen = json.loads(r.body)
        self.assertEqual(seen["method"], "GET")
        self.assertEqual(seen["url"], "/echo-headers?q=1")
        self.assertEqual(seen["version"], "1.1")
        pairs = header_pairs(seen["headers"])
        names = [k for k, _ in pairs]
        for gone in ("connection", "x-private", "keep-alive", "te", "upgrade", "proxy-authorization",
                     "proxy-connection"):
            self.assertNotIn(gone, names)
        self.assertIn(("host", "t"), pairs)
        self.assertIn(("x-custom", "kept"), pairs)
        self.assertIn(("x-forwarded-for", "203.0.113.9, 127.0.0.1"), pairs)
        self.assertIn(("x-forwarded-proto", "http"), pairs)
        self.assertIn(("x-forwarded-host", "t"), pairs)
        self.assertEqual(names.count("x-forwarded-for"), 1)

    def test_http10_client_gets_a_close_delimited_body(self):
        with Client(self.server.port) as c:
            c.send(b"POST /echo HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello")
            r = c.response()
            self.assertEqual(r.framing, "close")
            self.assertEqual(r.body, b"hello")
            self.assertIsNone(r.header("transfer-encoding"))

    def test_pipelined_requests_answer_in_order(self):
        with Client(self.server.port) as c:
            c.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                   b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                   b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"
                   b"GET /py/ HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertTrue(c.response().body.startswith(b"Hello from node"))
            self.assertEqual(c.response().body, b"abc")
            self.assertEqual(c.response().body, b"Hello, World!")
            self.assertEqual(c.response().body, b"python says hi")

    def test_slow_upstream_holds_nobody_else_up(self):
        results = {}

        def slow():
            results["slow"] = request(self.server.port, "GET", "/slow?ms=1500", timeout=15)

        t = threading.Thread(target=slow)
        t.start()
        # Meanwhile the one worker answers others at once.
        for _ in range(20):
            self.assertEqual(request(self.server.port, "GET", "/hello").status, 200)
        self.assertNotIn("slow", results)
        t.join(15)
        self.assertEqual(results["slow"].body, b"slow")


class UnixSocketUpstream(unittest.TestCase):
    def test_node_on_a_unix_socket(self):
        with tempfile.TemporaryDirectory() as d, NodeApp(f"unix:{d}/app.sock") as node, \
                rftest.Server("--upstream", f"app={node.address}", "--proxy", "/=app", workers=1) as server:
            r = request(server.port, "GET", "/hello")
            self.assertEqual(r.body, f"Hello from node {node.pid}".encode())
            r = request(server.port, "POST", "/echo", b"over unix")
            self.assertEqual(r.body, b"over unix")


if __name__ == "__main__":
    rftest.main()
