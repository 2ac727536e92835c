"""Stats end to end: exact totals across workers and after a kill -9, the admin
listener's routes, /metrics through promtool, the control socket and `ringfork ctl`."""
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import unittest

import rftest

ADMIN = r"admin: http://127\.0\.0\.1:(\d+)/"
REQUEST = b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"




class Stats(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rf-stats-")
        self.control = os.path.join(self.dir, "ctl.sock")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def server(self, *extra, workers=2):
        s = rftest.Server("--demo", "--admin", "127.0.0.1:0", "--control", self.control, *extra, workers=workers)
        s.admin_port = int(s.wait_log(ADMIN).group(1))
        return s

    def ctl(self, *args):
        return subprocess.run([rftest.BIN, "ctl", "--control", self.control, *args], capture_output=True,
                              text=True, timeout=10)

    def test_exact_totals_survive_kill9(self):
        with self.server() as s:
            self.assertEqual(rftest.make_requests(s.port, 20000), 20000)
            snap = rftest.wait_until(lambda: (lambda d: d if d["totals"]["requests"] == 20000 else None)(
                rftest.admin_stats(s.admin_port)), 5, what="totals.requests == 20000")
            self.assertEqual(len(snap["workers"]), 2)
            self.assertEqual(sum(w["requests"] for w in snap["workers"]), 20000)
            self.assertEqual(snap["totals"]["responses"]["2xx"], 20000)
            for key in ("requests", "responses", "connections_accepted", "connections_open", "bytes_in",
                        "bytes_out", "latency_us"):
                self.assertIn(key, snap["totals"])
            for key in ("slot", "pid", "generation", "state", "uptime_s", "requests", "connections_open",
                        "restarts", "last_exit"):
                self.assertIn(key, snap["workers"][0])

            victim = max(snap["workers"], key=lambda w: w["requests"])  # at least 10,000 requests
            os.kill(victim["pid"], signal.SIGKILL)
            after = rftest.wait_until(lambda: (lambda d: d if d["master"]["respawns"] == 1 and len(d["workers"]) == 2
                                               and all(w["pid"] != victim["pid"] for w in d["workers"]) else None)(
                rftest.admin_stats(s.admin_port)), 10, what="slot refilled")
            self.assertEqual(after["totals"]["requests"], 20000)  # the dead worker's requests stay counted
            refilled = next(w for w in after["workers"] if w["slot"] == victim["slot"])
            self.assertEqual(refilled["restarts"], 1)
            self.assertEqual(refilled["generation"], victim["generation"] + 1)
            self.assertIn("signal 9", refilled["last_exit"])

            # Counting goes on from there; totals never go backwards.
            self.assertEqual(rftest.make_requests(s.port, 1000, connections=2), 1000)
            rftest.wait_until(lambda: rftest.admin_stats(s.admin_port)["totals"]["requests"] == 21000, 5, what="21000")

    def test_admin_routes_and_errors(self):
        with self.server() as s:
            self.assertEqual(rftest.admin_get(s.admin_port, "/healthz"), (200, b"ok\n"))
            rftest.wait_until(lambda: rftest.admin_get(s.admin_port, "/readyz")[0] == 200, 5, what="/readyz 200")
            status, page = rftest.admin_get(s.admin_port, "/")
            self.assertEqual(status, 200)
            self.assertIn(b"<title>ringfork</title>", page)
            self.assertNotIn(b"http://", page.replace(b"http://127.0.0.1", b""))  # no external assets
            self.assertEqual(rftest.admin_get(s.admin_port, "/nope")[0], 404)
            with rftest.Conn(s.admin_port) as c:
                c.send(b"POST /stats HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
                self.assertEqual(c.response()[0], 405)
            with rftest.Conn(s.admin_port) as c:  # an oversized head is refused, not buffered
                c.send(b"GET /stats HTTP/1.1\r\nX: " + b"x" * 9000 + b"\r\n\r\n")
                self.assertEqual(c.response()[0], 431)
            # A client that connects and sends nothing does not stall the master.
            idle = [socket.create_connection(("127.0.0.1", s.admin_port)) for _ in range(10)]
            self.assertEqual(rftest.admin_get(s.admin_port, "/healthz")[0], 200)
            self.assertEqual(self.ctl("stats").returncode, 0)
            for sock in idle:
                sock.close()

    def test_metrics_pass_promtool(self):
        promtool = rftest.program("promtool")
        with self.server() as s:
            self.assertEqual(rftest.make_requests(s.port, 200, connections=2), 200)
            with rftest.Conn(s.port) as c:
                c.send(b"GET /missing HTTP/1.1\r\nHost: t\r\n\r\n")
                self.assertEqual(c.response()[0], 404)
            rftest.wait_until(lambda: rftest.admin_stats(s.admin_port)["totals"]["requests"] == 201, 5, what="201 requests")
            status, text = rftest.admin_get(s.admin_port, "/metrics")
            self.assertEqual(status, 200)
            r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=30)
            self.assertEqual(r.returncode, 0, (r.stdout + r.stderr).decode())
            body = text.decode()
            self.assertIn("ringfork_requests_total 201\n", body)
            self.assertIn('ringfork_error_responses_total{status="404"} 1\n', body)
            self.assertIn('ringfork_worker_requests_total{slot="1"}', body)

    def test_control_socket_and_ctl(self):
        with self.server() as s:
            mode = os.stat(self.control).st_mode
            self.assertTrue(stat.S_ISSOCK(mode))
            self.assertEqual(stat.S_IMODE(mode), 0o600)
            out = self.ctl("workers")
            self.assertEqual(out.returncode, 0, out.stderr)
            lines = out.stdout.strip().splitlines()
            self.assertTrue(lines[0].startswith("SLOT"))
            self.assertEqual(len(lines), 3)
            self.assertIn("ready", out.stdout)
            self.assertIn("requests", self.ctl("stats").stdout)
            data = json.loads(self.ctl("--json", "stats").stdout)
            self.assertEqual(set(data), {"master", "totals", "workers", "tasks", "upstreams", "apps"})
            self.assertEqual(len(json.loads(self.ctl("workers", "--json").stdout)), 2)
            r = self.ctl("scale", "0")
            self.assertEqual(r.returncode, 1)
            self.assertIn("usage: scale N", r.stderr)
            self.assertEqual(self.ctl("bogus").returncode, 1)

            # A second server refuses to take over the live socket.
            second = subprocess.run([rftest.BIN, "--listen", "127.0.0.1:0", "--workers", "1", "--control",
                                     self.control], capture_output=True, text=True, timeout=10)
            self.assertEqual(second.returncode, 1)
            self.assertIn("a running server answers", second.stderr)
            self.assertEqual(self.ctl("stats").returncode, 0)  # still ours

            self.assertEqual(self.ctl("stop").returncode, 0)
            self.assertEqual(s.wait_exit(15), 0)
            self.assertFalse(os.path.exists(self.control))  # removed on exit
        missing = self.ctl("stats")
        self.assertEqual(missing.returncode, 1)
        self.assertIn("connect", missing.stderr)

    def test_stale_socket_replaced_and_readyz_while_stopping(self):
        # A socket file nobody listens on (a crashed master's) is replaced.
        stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stale.bind(self.control)
        stale.close()
        with self.server("--shutdown-timeout", "10") as s:
            self.assertEqual(self.ctl("stats").returncode, 0)
            with rftest.Conn(s.port) as busy:  # holds a worker in draining
                busy.send(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
                busy.response()
                s.signal(signal.SIGTERM)
                rftest.wait_until(lambda: rftest.admin_get(s.admin_port, "/readyz")[0] == 503, 5, what="/readyz 503")
                self.assertTrue(rftest.admin_stats(s.admin_port)["master"]["stopping"])
            self.assertEqual(s.wait_exit(15), 0)

    def test_admin_refuses_public_address(self):
        r = subprocess.run([rftest.BIN, "--admin", "0.0.0.0:0"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--admin-public", r.stderr)


if __name__ == "__main__":
    rftest.main()
