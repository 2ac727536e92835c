"""Bodies through the reverse proxy, both ways, in bounded memory: a 200 MB download and
a 200 MB chunked upload compared by sha256 while the worker's resident memory is watched,
a client that reads slowly, and an upstream that answers before the body is all in."""
import hashlib
import json
import socket
import time
import unittest

import rftest
from proxy_helpers import BLOCK, Client, NodeApp, RssWatch, pattern_sha256, request, worker_pid

SIZE = 200 * 1024 * 1024
RSS_GROWTH_MAX_KIB = 32 * 1024  # a window per direction is 64 KiB; the body is 200 MB


class ProxyBodies(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.node = NodeApp()
        cls.server = rftest.Server("--upstream", f"app={cls.node.address}", "--proxy", "/=app",
                                   "--max-body", "1g", workers=1)
        cls.worker = worker_pid(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.node.stop()

    def download(self, path, framing):
        h = hashlib.sha256()
        count = [0]

        def sink(b):
            h.update(b)
            count[0] += len(b)

        watch = RssWatch(self.worker)
        with Client(self.server.port, timeout=120) as c:
            c.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            r = c.response(sink=sink)
        peak = watch.stop()
        self.assertEqual(r.status, 200)
        self.assertEqual(r.framing, framing)
        self.assertEqual(count[0], SIZE)
        self.assertEqual(h.hexdigest(), pattern_sha256(SIZE))
        self.assertLess(peak - watch.start, RSS_GROWTH_MAX_KIB, f"worker RSS {watch.start} -> {peak} KiB")

    def test_200mb_download_with_length(self):
        self.download(f"/download?size={SIZE}", "length")

    def test_200mb_download_chunked(self):
        self.download(f"/download?size={SIZE}&chunked=1", "chunked")

    def test_200mb_chunked_upload(self):
        watch = RssWatch(self.worker)
        with Client(self.server.port, timeout=120) as c:
            c.send(b"POST /sha256 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = f"{len(BLOCK):x}\r\n".encode() + BLOCK + b"\r\n"
            for _ in range(SIZE // len(BLOCK)):
                c.send(chunk)
            c.send(b"0\r\n\r\n")
            r = c.response()
        peak = watch.stop()
        self.assertEqual(r.status, 200, r.body)
        got = json.loads(r.body)
        self.assertEqual(got["bytes"], SIZE)
        self.assertEqual(got["sha256"], pattern_sha256(SIZE))
        self.assertLess(peak - watch.start, RSS_GROWTH_MAX_KIB, f"worker RSS {watch.start} -> {peak} KiB")

    def test_content_length_upload_and_echo(self):
        body = bytes(range(256)) * 4096  # 1 MiB
        r = request(self.server.port, "PUT", "/echo", body, timeout=30)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, body)

    def test_slow_reader_holds_the_upstream_back(self):
        # A client that reads nothing for a while: the worker holds a window, not the body.
        watch = RssWatch(self.worker)
        with Client(self.server.port, timeout=60) as c:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            c.send(f"GET /download?size={64 * 1024 * 1024} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:  # not reading: only kernel buffers fill
                time.sleep(0.05)
            stalled = watch.peak
            h = hashlib.sha256()
            r = c.response(sink=h.update)
        peak = watch.stop()
        self.assertEqual(r.status, 200)
        self.assertEqual(h.hexdigest(), pattern_sha256(64 * 1024 * 1024))
        self.assertLess(stalled - watch.start, RSS_GROWTH_MAX_KIB, f"RSS while stalled {stalled} KiB")
        self.assertLess(peak - watch.start, RSS_GROWTH_MAX_KIB)

    def test_request_after_a_large_exchange_reuses_the_connection(self):
        with Client(self.server.port, timeout=60) as c:
            c.send(b"GET /download?size=3000000 HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(len(c.response().body), 3_000_000)
            c.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertTrue(c.response().body.startswith(b"Hello from node"))


class EarlyAnswer(unittest.TestCase):
    def test_upstream_answering_before_the_body_closes_the_client_after(self):
        with NodeApp() as node, rftest.Server("--upstream", f"app={node.address}", "--proxy", "/=app",
                                              "--max-body", "1g", workers=1) as server:
            with Client(server.port, timeout=20) as c:
                # /status answers at once without reading the body; most of it is still to come.
                c.send(b"POST /status?code=413 HTTP/1.1\r\nHost: t\r\nContent-Length: 50000000\r\n\r\n" + BLOCK)
                r = c.response()
                self.assertEqual(r.status, 413)
                self.assertEqual(r.header("connection"), "close")
                self.assertTrue(c.closed(10))
            # The worker is fine and serves the next client.
            self.assertEqual(request(server.port, "GET", "/status?code=204").status, 204)


if __name__ == "__main__":
    rftest.main()
