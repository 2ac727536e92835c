"""An upstream with several addresses: requests move to another address when one fails
before answering (any request when nothing was sent, idempotent ones otherwise), kill -9
of an instance under load fails no GET, and the address set of a supervised app changes
at run time (upstream_set from the master), with each removed address reported drained
once nothing is in flight to it."""
import os
import re
import signal
import socket
import struct
import threading
import unittest

import rftest
from proxy_helpers import AppServer, AppStateDir, Client, NodeApp, RawUpstream, node_command, read_head, request, wait_free_port

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


class AddressSets(AppStateDir, unittest.TestCase):
    """The address set of an app's upstream changes at run time: the master sends every
    worker the ready instances (upstream_set) and stops an instance taken out of the set
    only once every worker has reported it drained (upstream_drained)."""

    def test_new_requests_go_to_the_new_set_and_a_removed_address_drains(self):
        with AppServer(node_command(), env={"APP_DIR": self.dir}, workers=1) as a:
            s = a.server
            [old] = a.wait_ready(1)
            address = f"127.0.0.1:{old['port']}"
            # Connections kept by the worker's pool, and one request in flight on the old
            # instance when the set changes.
            with Client(s.port) as c:
                for _ in range(3):
                    c.send(b"GET /hello HTTP/1.1\r\nHost: t\r\n\r\n")
                    self.assertTrue(c.response().body.startswith(b"hello from node %d" % old["pid"]))
            held = {}
            t = threading.Thread(target=lambda: held.setdefault("r", request(s.port, "GET", "/held", timeout=30)))
            t.start()
            self.addCleanup(t.join, 30)
            self.addCleanup(self.touch, "release")
            s.wait_log(rf"app web\.0: held request arrived at {old['pid']}", 10)
            worker = s.workers()[0]
            s.signal(signal.SIGHUP)
            [new] = a.wait_ready(1, exclude={old["pid"]})
            for _ in range(5):
                self.assertTrue(request(s.port, "GET", "/hello").body.startswith(b"hello from node %d" % new["pid"]))
            # Idle connections to the removed address are closed; the held one stays, and
            # so does the old instance, out of the set.
            rftest.wait_until(lambda: rftest.established(old["port"]) == 1, 5, what="idle connections closed")
            self.assertTrue(rftest.alive(old["pid"]))
            self.assertEqual([i["state"] for i in a.instances() if i["pid"] == old["pid"]], ["draining"])
            self.assertEqual(s.count_log(rf"\[worker 0 {worker}\] info: upstream web {re.escape(address)}: drained"), 0)
            self.assertEqual(s.count_log(rf"app web\.0 \(pid {old['pid']}\) drained"), 0)
            self.touch("release")
            t.join(30)
            self.assertEqual(held["r"].status, 200)
            self.assertEqual(held["r"].body, b"held by %d" % old["pid"])  # it finished where it started
            s.wait_log(rf"\[worker 0 {worker}\] info: upstream web {re.escape(address)}: drained", 10)
            s.wait_log(rf"app web\.0 \(pid {old['pid']}\) drained: stopping it", 10)
            s.wait_log(rf"app web\.0 \(pid {old['pid']}\) stopped: exit code 0", 10)
            self.assertEqual(s.count_log(r"did not report it drained"), 0)

    def test_an_empty_set_answers_503_and_the_worker_keeps_serving(self):
        with AppServer(node_command(), "--demo", "--app-health", "web=/health", "--app-health-timeout", "web=1",
                       env={"APP_DIR": self.dir}, workers=1) as a:
            s = a.server
            [old] = a.wait_ready(1)
            self.touch("sick")  # its health checks fail from now on, and its replacement's too
            s.wait_log(rf"app web\.0 \(pid {old['pid']}\): no health check passed for 1000 ms", 10)
            s.wait_log(r"app web: serving on \(no instance ready\)", 10)
            s.wait_log(r"upstream web: addresses now \(none\)", 10)
            self.assertEqual(request(s.port, "GET", "/hello").status, 503)
            self.assertEqual(request(s.port, "GET", "/plaintext").status, 200)
            os.unlink(os.path.join(self.dir, "sick"))
            [new] = a.wait_ready(1, exclude={old["pid"]})
            rftest.wait_until(lambda: request(s.port, "GET", "/hello").status == 200, 5, what="the new instance served")
            self.assertTrue(request(s.port, "GET", "/hello").body.startswith(b"hello from node %d" % new["pid"]))


if __name__ == "__main__":
    rftest.main()
