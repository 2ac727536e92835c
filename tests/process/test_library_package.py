"""ringfork as an installed package: cmake --install into a temporary prefix, the pkg-config
file, and every example built out of tree against it with find_package(ringfork) and run
(hello, HUPs under load, media jobs and their timeout, prime checks with /ping latency
under them, kill -9 of the master leaving no process behind)."""
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest
from unittest import mock

import rftest
import taskutil
from library_helpers import BUILD_DIR, SOURCE_DIR, get, read_chunked


@unittest.skipUnless(BUILD_DIR and os.path.isdir(BUILD_DIR), "RINGFORK_BUILD_DIR not set")
class Package(unittest.TestCase):
    """cmake --install into a temporary prefix, then every examples/<name> built out of tree
    against it with find_package(ringfork), and run."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rf-package-")
        cls.prefix = os.path.join(cls.tmp, "prefix")
        subprocess.run([rftest.program("cmake"), "--install", BUILD_DIR, "--prefix", cls.prefix], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(BUILD_DIR, "CMakeCache.txt")) as f:
            cache = f.read()
        cxx = re.search(r"^CMAKE_CXX_COMPILER:[A-Z]+=(.*)$", cache, re.M).group(1)
        build_type = re.search(r"^CMAKE_BUILD_TYPE:[A-Z]+=(.*)$", cache, re.M).group(1)
        cls.binaries = {}
        for src in sorted(glob.glob(os.path.join(SOURCE_DIR, "examples", "*", "CMakeLists.txt"))):
            name = os.path.basename(os.path.dirname(src))
            out = os.path.join(cls.tmp, "build-" + name)
            subprocess.run([rftest.program("cmake"), "-S", os.path.dirname(src), "-B", out, f"-DCMAKE_CXX_COMPILER={cxx}",
                            f"-DCMAKE_BUILD_TYPE={build_type}", f"-DCMAKE_PREFIX_PATH={cls.prefix}",
                            "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Werror"],
                           check=True, stdout=subprocess.DEVNULL)
            subprocess.run([rftest.program("cmake"), "--build", out], check=True, stdout=subprocess.DEVNULL)
            cls.binaries[name] = os.path.join(out, name)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def example(self, name, *args, workers=2):
        binary = self.binaries[name]
        self.assertTrue(os.access(binary, os.X_OK), f"examples/{name} did not build an executable named {name}")
        with mock.patch.object(rftest, "BIN", binary):
            s = rftest.Server(*args, workers=workers)
        self.addCleanup(s.stop)
        return s

    def test_installed_files(self):
        for f in ["include/ringfork/ringfork.hpp", "lib/libringfork.a", "lib/cmake/ringfork/ringforkConfig.cmake",
                  "lib/pkgconfig/ringfork.pc", "bin/ringfork"]:
            self.assertTrue(os.path.exists(os.path.join(self.prefix, f)), f)
        # The pkg-config file finds the same headers and library from wherever it was installed.
        flags = subprocess.run([rftest.program("pkg-config"), "--cflags", "--libs", "ringfork"], capture_output=True, text=True,
                               env={**os.environ, "PKG_CONFIG_PATH": os.path.join(self.prefix, "lib/pkgconfig")},
                               check=True).stdout
        self.assertIn("-lringfork", flags)
        self.assertIn(os.path.join(self.prefix, "lib/pkgconfig/../../include"), flags)

    def test_hello(self):
        s = self.example("hello")
        self.assertEqual(get(s.port, "/hello/world")[::2], (200, b"Hello, world!"))
        status, headers, _ = get(s.port, "/hello/world")
        self.assertTrue(headers["content-type"].startswith("text/plain"))
        self.assertEqual(get(s.port, "/hello")[0], 404)
        self.assertEqual(get(s.port, "/hello/x", method="POST")[0], 405)
        with open(os.path.join(SOURCE_DIR, "examples/hello/main.cpp")) as f:
            user_lines = [l for l in f.read().splitlines() if l.strip() and not l.strip().startswith("//")]
        self.assertLessEqual(len(user_lines), 15, "examples/hello is meant to be at most 15 lines of code")

    def test_hups_under_load_lose_nothing(self):
        s = self.example("hello", "--workers", "2", workers=None)
        wrk = rftest.start_wrk(s.port, path="/hello/load", connections=64, seconds=8)
        self.addCleanup(rftest.stop_wrk, wrk)
        for i in range(10):
            s.signal(signal.SIGHUP)
            rftest.wait_until(lambda: s.count_log(r"reload complete") >= i + 1, 10, what=f"reload {i + 1}")
        r = rftest.wrk_result(wrk)
        print(f"\n  10 HUPs of examples/hello under wrk: {r['requests']} requests, "
              f"socket errors {r['socket_errors']}, non-2xx {r['non2xx']}", flush=True)
        self.assertGreater(r["requests"], 0)
        self.assertEqual(r["socket_errors_total"], 0, r["output"])
        self.assertEqual(r["non2xx"], 0, r["output"])

    def media_job(self, port, body):
        status, headers, out = taskutil.http(port, "POST", "/media", body)
        self.assertEqual(status, 202, out)
        location = headers["location"]
        self.assertRegex(location, r"^/media/[0-9a-f]{32}$")
        self.assertEqual(json.loads(out), {"id": location[7:], "state": "queued"})
        return location

    def media_result(self, port, location, timeout=20):
        def ended():
            status, _, out = get(port, location)
            return (status, json.loads(out)) if status == 200 else None
        return rftest.wait_until(ended, timeout, interval=0.1, what=f"GET {location} to answer 200")[1]

    def test_media(self):
        s = self.example("media", "--task-timeout", "3", "--task-workers", "2")
        # Lengths around SHA-256's block boundaries, and a large body.
        bodies = [b"", b"a" * 55, b"b" * 56, b"c" * 64, os.urandom(1 << 20)]
        jobs = [self.media_job(s.port, body) for body in bodies]
        status, _, out = get(s.port, jobs[0])
        self.assertEqual(status, 202, "a job answered 200 before its slow second was over")
        self.assertIn(json.loads(out)["state"], ("queued", "running"))
        for body, location in zip(bodies, jobs):
            self.assertEqual(self.media_result(s.port, location),
                             {"id": location[7:], "state": "done", "sha256": hashlib.sha256(body).hexdigest()})
        self.assertEqual(get(s.port, "/media/" + "0" * 32)[0], 404)
        self.assertEqual(get(s.port, "/media/not-a-job")[0], 404)
        self.assertEqual(get(s.port, "/media", method="POST")[0], 202)

    def test_a_media_job_that_spins_is_killed_at_the_timeout(self):
        s = self.example("media", "--task-timeout", "2", "--task-workers", "1")
        before = set(taskutil.runners(s))
        location = self.media_job(s.port, b"LOOP and a corrupt frame")
        rftest.wait_until(lambda: json.loads(get(s.port, location)[2])["state"] == "running", 10,
                          what="the LOOP job to run")
        # Every other request is answered while it spins.
        for _ in range(20):
            self.assertEqual(get(s.port, "/media/" + "1" * 32)[0], 404)
        self.assertEqual(get(s.port, location)[0], 202)
        self.assertEqual(self.media_result(s.port, location), {"id": location[7:], "state": "timed_out"})
        s.wait_log(r"task media job [0-9a-f]+: timed_out")
        # The runner it spun in was killed (a function job is its runner's process group)
        # and replaced; nothing of the server burns CPU any more.
        rftest.wait_until(lambda: taskutil.runners(s) and not set(taskutil.runners(s)) & before, 10,
                          what="the spinning runner to be replaced")
        busy = cpu_busy(s.pid, 0.5)
        self.assertFalse(busy, f"processes still spinning after the timeout: {busy}")
        # And the pool still works.
        self.assertEqual(self.media_result(s.port, self.media_job(s.port, b"fine"))["state"], "done")

    def test_prime(self):
        s = self.example("prime", "--task-workers", "2")
        status, headers, body = stream_get(s.port, "/prime/29355126551")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("transfer-encoding"), "chunked")
        lines = body.decode().splitlines()
        self.assertEqual(lines[-1], "29355126551 is prime")
        self.assertGreaterEqual(len(lines), 2, "no progress line before the verdict")
        self.assertTrue(all(l.startswith("checked ") for l in lines[:-1]), lines)
        self.assertEqual(stream_get(s.port, "/prime/29355126555")[2].decode().splitlines()[-1],
                         "29355126555 is not prime (3 x 9785042185)")
        self.assertEqual(stream_get(s.port, "/prime/2")[2], b"2 is prime\n")
        self.assertEqual(get(s.port, "/prime/12x")[0], 400)
        self.assertEqual(get(s.port, "/prime/99999999999999999999")[0], 400)
        self.assertEqual(get(s.port, "/ping")[::2], (200, b"pong\n"))

    def test_ping_stays_fast_during_prime_checks(self):
        # Three long checks (a prime near 10^18: 5e8 trial divisions each) on the
        # one worker that also answers /ping.
        s = self.example("prime", "--workers", "1", "--task-workers", "3", workers=None)
        checks = []
        for _ in range(3):
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            self.addCleanup(c.close)
            c.sendall(b"GET /prime/1000000000000000003 HTTP/1.1\r\nHost: t\r\n\r\n")
            checks.append(c)
        for c in checks:  # each has streamed a first progress line: it runs
            c.settimeout(30)
            first = rftest.recv_until(c, b"checked", "a check's stream ended early")
            self.assertTrue(first.startswith(b"HTTP/1.1 200"), first[:80])
        times = []
        with rftest.Conn(s.port, timeout=5) as conn:
            for _ in range(200):
                t0 = time.perf_counter()
                conn.send(b"GET /ping HTTP/1.1\r\nHost: t\r\n\r\n")
                self.assertEqual(conn.response()[::2], (200, b"pong\n"))
                times.append(time.perf_counter() - t0)
        for c in checks:  # still checking: the pings were measured under load
            c.setblocking(False)
            try:
                data = c.recv(1 << 16)
            except BlockingIOError:
                data = b""
            self.assertNotIn(b"is prime", data, "a check ended before the pings did")
        times.sort()
        p99 = times[int(len(times) * 0.99) - 1] * 1000
        print(f"\n  /ping during three prime checks on one worker: p50 {times[len(times) // 2] * 1000:.2f} ms, "
              f"p99 {p99:.2f} ms", flush=True)
        self.assertLess(p99, 10.0 * rftest.LATENCY_FACTOR)

    def test_kill9_of_the_master_leaves_nothing(self):
        s = self.example("media", "--task-timeout", "60")
        location = self.media_job(s.port, b"LOOP")
        rftest.wait_until(lambda: json.loads(get(s.port, location)[2])["state"] == "running", 10,
                          what="the LOOP job to spin")
        family = descendants(s.pid)
        self.assertTrue(any(rftest.comm(p) == "rf-worker" for p in family))
        self.assertTrue(any(rftest.comm(p) == "rf-task" for p in family))
        os.kill(s.pid, signal.SIGKILL)
        s.proc.wait(5)
        rftest.wait_until(lambda: not any(rftest.alive(p) for p in family), 5,
                          what="every worker, runner and job of the master to go")


def stream_get(port, path):
    """(status, headers, body) of a chunked GET."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        status, headers, body, _, complete = read_chunked(sock, time.monotonic() + 30)
        assert complete, f"GET {path}: the stream did not end"
        return status, headers, body
    finally:
        sock.close()


def descendants(pid):
    """Every process below pid."""
    out, todo = [], [pid]
    while todo:
        kids = rftest.children(todo.pop())
        out += kids
        todo += kids
    return out


def cpu_busy(pid, seconds):
    """Processes below pid that used more than a fifth of a core over `seconds`."""
    def ticks(p):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        except OSError:
            return 0
    procs = descendants(pid)
    start = {p: ticks(p) for p in procs}
    time.sleep(seconds)  # a measuring window, not a wait for a condition
    hz = os.sysconf("SC_CLK_TCK")
    return {p: rftest.comm(p) for p in procs if (ticks(p) - start[p]) / hz > seconds / 5}


if __name__ == "__main__":
    rftest.main()
