"""An upstream with several addresses: requests move to another address when one fails
before answering (any request when nothing was sent, idempotent ones otherwise), kill -9
of an instance under load fails no GET, and the address set changes at run time the way
the master changes it for supervised apps (upstream_set), with each removed address
reported drained once nothing is in flight to it."""
import os
import re
import signal
import socket
import struct
import threading
import time
import unittest

import rftest
from proxy_helpers import NodeApp, RawUpstream, read_head, request, wait_free_port

TEST_BIN = os.environ.get("RINGFORK_TEST_BIN") or os.path.join(os.path.dirname(__file__), "../../build/tests/ringfork-test")


def reset_after_request(conn, index):
    """Reads the request, then resets the connection: nothing answered."""
    read_head(conn)
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def node_pid(body):
    m = re.match(rb"Hello from node (\d+)", body)
    assert m, body
    return int(m.group(1))


class OtherAddresses(unittest.TestCase):
    def test_refused_connects_move_every_request_to_the_live_address(self):
        dead = wait_free_port()
        with NodeApp() as node, rftest.Server("--upstream", f"app=127.0.0.1:{dead},{node.address}",
                                              "--proxy", "/=app", workers=1) as server:
            for _ in range(6):
                self.assertEqual(request(server.port, "GET", "/hello").status, 200)
                self.assertEqual(request(server.port, "POST", "/echo", b"abc").body, b"abc")  # nothing was sent
            server.wait_log(rf"upstream app 127\.0\.0\.1:{dead}: connect: Connection refused")
            server.wait_log(rf"upstream app 127\.0\.0\.1:{dead}: ejected")

    def test_idempotent_requests_move_after_a_reset_and_posts_do_not(self):
        with RawUpstream(reset_after_request) as bad, NodeApp() as node:
            with rftest.Server("--upstream", f"app={bad.address},{node.address}", "--proxy", "/=app",
                               workers=1) as server:
                for _ in range(6):
                    self.assertEqual(request(server.port, "GET", "/hello").status, 200)
                self.assertGreater(bad.connections, 0)
            # A fresh server, so the resetting address is not ejected yet: the POSTs that
            # were sent to it fail (502) instead of being repeated elsewhere.
            with rftest.Server("--upstream", f"app={bad.address},{node.address}", "--proxy", "/=app",
                               workers=1) as server:
                before = bad.connections
                statuses = [request(server.port, "POST", "/echo", b"once").status for _ in range(4)]
                self.assertIn(502, statuses)
                self.assertIn(200, statuses)
                self.assertEqual(statuses.count(502), bad.connections - before)
                server.wait_log(rf"upstream app {re.escape(bad.address)}: (recv|closed before responding)")


class KillUnderLoad(unittest.TestCase):
    def test_kill_9_of_an_instance_fails_no_get(self):
        a, b = NodeApp(), NodeApp()
        self.addCleanup(a.stop)
        self.addCleanup(b.stop)
        server = rftest.Server("--upstream", f"app={a.address},{b.address}", "--proxy", "/=app", workers=1)
        self.addCleanup(server.stop)
        wrk = rftest.start_wrk(server.port, path="/hello", threads=1, connections=32, seconds=6)
        self.addCleanup(rftest.stop_wrk, wrk)
        rftest.wait_until(lambda: rftest.established(server.port) >= 32, 10, what="wrk's connections")
        a.stop(signal.SIGKILL)
        result = rftest.wrk_result(wrk)
        self.assertGreater(result["requests"], 1000, result["output"])
        self.assertEqual(result["socket_errors_total"], 0, result["output"])
        self.assertEqual(result["non2xx"], 0, result["output"])
        server.wait_log(rf"upstream app {re.escape(a.address)}: ")
        self.assertEqual(request(server.port, "GET", "/hello").status, 200)


@unittest.skip("needs a master that sends upstream_set: the app supervisor (--app) drives these next")
class AddressSets(unittest.TestCase):
    """The worker side of supervised apps, driven through the test build's hook, which
    builds the same upstream_set message the master sends and hands it to the pool."""

    def set_addresses(self, port, *addresses):
        r = request(port, "POST", "/__test/upstream-set", ("0 " + ",".join(addresses)).encode())
        self.assertEqual(r.status, 200, r.body)

    def test_new_requests_go_to_the_current_set_and_removed_addresses_drain(self):
        arrived, release = threading.Event(), threading.Event()

        def held(conn, index):
            """Answers each request, the second one only once the test says so."""
            while True:
                head, _ = read_head(conn)
                if head is None:
                    return
                if b"/held" in head:
                    arrived.set()
                    release.wait(20)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nold")

        old = RawUpstream(held)
        new = NodeApp()
        self.addCleanup(old.stop)
        self.addCleanup(new.stop)
        self.addCleanup(release.set)
        dead = wait_free_port()
        rftest.BIN, saved = TEST_BIN, rftest.BIN
        try:
            # "mark" fails on purpose: its log line shows every earlier line has been read.
            server = rftest.Server("--upstream", f"app={old.address}", "--upstream", f"mark=127.0.0.1:{dead}",
                                   "--proxy", "/=app", "--proxy", "/mark=mark", "--demo", workers=1)
        finally:
            rftest.BIN = saved
        self.addCleanup(server.stop)
        self.assertEqual(request(server.port, "GET", "/first").body, b"old")
        # A request is in flight to the old address when the set changes.
        held_response = {}
        t = threading.Thread(target=lambda: held_response.setdefault("r", request(server.port, "GET", "/held", timeout=20)))
        t.start()
        self.assertTrue(arrived.wait(10))
        self.set_addresses(server.port, new.address)
        for _ in range(5):
            self.assertEqual(node_pid(request(server.port, "GET", "/hello").body), new.pid)
        self.assertEqual(request(server.port, "GET", "/mark").status, 502)
        server.wait_log(rf"upstream mark 127\.0\.0\.1:{dead}: connect")
        self.assertEqual(server.count_log(r"drained"), 0)  # the held request is still in flight
        release.set()
        t.join(20)
        self.assertEqual(held_response["r"].body, b"old")  # it finished on the removed address
        server.wait_log(rf"upstream app {re.escape(old.address)}: drained")
        self.assertEqual(server.count_log(r"drained"), 1)
        # Back to both: requests reach each again.
        self.set_addresses(server.port, old.address, new.address)
        bodies = {request(server.port, "GET", "/hello").body[:5] for _ in range(8)}
        self.assertEqual(bodies, {b"old", b"Hello"})
        # An empty set: nothing to send to (503), and the worker is fine.
        self.set_addresses(server.port)
        self.assertEqual(request(server.port, "GET", "/hello").status, 503)
        self.assertEqual(request(server.port, "GET", "/plaintext").status, 200)
        bad = request(server.port, "POST", "/__test/upstream-set", b"0 nowhere")
        self.assertEqual(bad.status, 400)

    def test_idle_connections_to_a_removed_address_close(self):
        def keep_alive(conn, index):
            while True:
                head, _ = read_head(conn)
                if head is None:
                    return
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

        with RawUpstream(keep_alive) as old, NodeApp() as new:
            rftest.BIN, saved = TEST_BIN, rftest.BIN
            try:
                server = rftest.Server("--upstream", f"app={old.address}", "--proxy", "/=app", workers=1)
            finally:
                rftest.BIN = saved
            with server:
                for _ in range(3):
                    self.assertEqual(request(server.port, "GET", "/x").body, b"ok")
                self.assertEqual(old.closed, 0)  # kept for the next request
                self.set_addresses(server.port, new.address)
                rftest.wait_until(lambda: old.closed == old.connections, 10, what="the old address's connections to close")
                server.wait_log(rf"upstream app {re.escape(old.address)}: drained")
                self.assertTrue(request(server.port, "GET", "/hello").body.startswith(b"Hello from node"))


if __name__ == "__main__":
    rftest.main()
