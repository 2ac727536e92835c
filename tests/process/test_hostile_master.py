"""The master's small servers under hostile load (issue 15 defect 6 and the control-socket
items): /healthz and /readyz on --admin keep answering a probe with a 1 s timeout while
about 200 idle connections (reconnecting as they are dropped) hit the admin port, and
supervision goes on; on --control, a command over 256 bytes is answered with an error
line rather than a reset, and idle connections do not make the next `ringfork ctl` fail."""
import errno
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request

import rftest

ADMIN = r"admin: http://127\.0\.0\.1:(\d+)/"


class IdleFlood(threading.Thread):
    """Keeps `count` idle connections open to `address`, reconnecting each one the server
    drops, until stopped or `seconds` have passed (and at most `max_connects` connects)."""

    def __init__(self, family, address, count=200, seconds=15.0, max_connects=400_000):
        super().__init__(daemon=True)
        self.family, self.address, self.count = family, address, count
        self.deadline = time.monotonic() + seconds
        self.max_connects = max_connects
        self.stop_flag = threading.Event()
        self.connects = 0
        self.dropped = 0
        self.open = 0

    def connect(self, sel):
        s = socket.socket(self.family, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect(self.address)
        except (BlockingIOError, InterruptedError):
            pass  # in progress (TCP) or a full backlog (Unix): counts as a waiting client
        except OSError:
            s.close()
            return False
        self.connects += 1
        sel.register(s, selectors.EVENT_READ)
        return True

    def run(self):
        sel = selectors.DefaultSelector()
        try:
            while len(sel.get_map()) < self.count and self.connects < self.max_connects:
                if not self.connect(sel):
                    time.sleep(0.001)
            while not self.stop_flag.is_set() and time.monotonic() < self.deadline:
                self.open = len(sel.get_map())
                for key, _ in sel.select(timeout=0.05):
                    s = key.fileobj
                    try:
                        data = s.recv(4096)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    if data:
                        continue  # never answered: the flood sends nothing
                    sel.unregister(s)
                    s.close()
                    self.dropped += 1
                while len(sel.get_map()) < self.count and self.connects < self.max_connects:
                    if not self.connect(sel):
                        break
        finally:
            for key in list(sel.get_map().values()):
                key.fileobj.close()
            sel.close()

    def stop(self):
        self.stop_flag.set()
        self.join(10)


class AdminFlood(unittest.TestCase):
    def test_probes_answer_under_an_idle_connection_flood(self):
        s = rftest.Server("--demo", "--admin", "127.0.0.1:0", workers=2)
        self.addCleanup(s.stop)
        admin = int(s.wait_log(ADMIN).group(1))
        flood = IdleFlood(socket.AF_INET, ("127.0.0.1", admin), count=200)
        flood.start()
        self.addCleanup(flood.stop)
        rftest.wait_until(lambda: flood.open >= 200, 5, what="200 idle connections to the admin port")

        failures, probes = [], 0
        victim_killed = False
        end = time.monotonic() + 5.0
        while time.monotonic() < end:
            for path, body in (("/healthz", b"ok"), ("/readyz", b"ready")):
                probes += 1
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{admin}{path}", timeout=1.0) as r:
                        got = (r.status, r.read().strip())
                except Exception as e:  # noqa: BLE001 - every failure is reported below
                    got = repr(e)
                if got != (200, body):
                    failures.append((path, round(end - time.monotonic(), 2), got))
            if not victim_killed and time.monotonic() > end - 4.0:
                os.kill(s.workers()[0], signal.SIGKILL)  # supervision goes on under the flood
                victim_killed = True
            time.sleep(0.1)
        self.assertEqual(failures, [], f"{len(failures)} of {probes} probes failed")
        self.assertGreater(flood.dropped, 0, "the flood was never dropped: was it idle?")
        s.wait_log(r"refilling slot")
        rftest.wait_until(lambda: len(s.workers()) == 2, 5, what="the killed worker's slot refilled")
        flood.stop()
        self.assertEqual(rftest.admin_get(admin, "/healthz", timeout=2)[0], 200)


class ControlSocket(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rf-hostile-ctl-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.control = os.path.join(self.dir, "ctl.sock")
        self.s = rftest.Server("--demo", "--control", self.control, workers=1)
        self.addCleanup(self.s.stop)

    def ctl(self, *args):
        return subprocess.run([rftest.BIN, "ctl", "--control", self.control, *args], capture_output=True, text=True,
                              timeout=15)

    def test_long_command_gets_an_error_line(self):
        for size in (300, 5000, 100_000):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.settimeout(5)
                c.connect(self.control)
                try:
                    c.sendall(b"x" * size + b"\n")
                except (BrokenPipeError, ConnectionResetError) as e:
                    self.fail(f"{size} bytes: the server reset the connection while the client was sending: {e!r}")
                data = b""
                try:
                    while chunk := c.recv(4096):
                        data += chunk
                except ConnectionResetError:
                    self.fail(f"{size} bytes: reset after {data!r}")
                self.assertEqual(data, b"error request longer than 256 bytes\n", size)
        self.assertEqual(self.ctl("stats").returncode, 0)

    def test_idle_connections_do_not_block_ctl(self):
        for idle in (33, 200):
            flood = IdleFlood(socket.AF_UNIX, self.control, count=idle, seconds=20)
            flood.start()
            try:
                rftest.wait_until(lambda: flood.open >= idle, 5, what=f"{idle} idle control connections")
                for _ in range(3):
                    r = self.ctl("stats")
                    self.assertEqual(r.returncode, 0, f"with {idle} idle connections: {r.stderr}")
                    self.assertIn("requests", r.stdout)
            finally:
                flood.stop()


if __name__ == "__main__":
    rftest.main()
