"""ringfork as a C++ library: an app's handlers answering now, later, from other threads,
streamed with backpressure, dropped or throwing; request views; files; every hook; and the
installed package, with the examples built out of tree against it."""
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest
from unittest import mock

import rftest
import taskutil

API_APP = os.environ.get("RINGFORK_API_APP")
BUILD_DIR = os.environ.get("RINGFORK_BUILD_DIR")
SOURCE_DIR = os.environ.get("RINGFORK_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "../..")


def get(port, path, headers="", timeout=5.0, method="GET"):
    with rftest.Conn(port, timeout=timeout) as c:
        c.send(f"{method} {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode())
        return c.response(head=method == "HEAD")


def get_until_close(port, path, timeout):
    """What a GET of `path` on a fresh connection receives until the server closes it or
    `timeout` passes, and whether it closed: (bytes, closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        return rftest.recv_until_close(sock, timeout)


def small_buffer_get(test, port, path):
    """A connection with a 64 KiB receive buffer (a reader the server must wait for) that
    has sent a GET of `path`; closed when `test` cleans up."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    sock.connect(("127.0.0.1", port))
    test.addCleanup(sock.close)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
    return sock


def read_chunked(sock, deadline, slow=0.0, limit=None):
    """Reads one chunked response from `sock`: (status, headers, body bytes, trailers dict,
    complete). `slow` sleeps between reads; `limit` stops after that many body bytes."""
    buf = b""

    def more():
        nonlocal buf
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out reading a chunked response")
        sock.settimeout(left)
        data = sock.recv(65536)
        if not data:
            raise EOFError
        buf += data
        if slow:
            time.sleep(slow)

    try:
        while b"\r\n\r\n" not in buf:
            more()
        head, buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:])}
        body = bytearray()
        while True:
            while b"\r\n" not in buf:
                more()
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            while len(buf) < size + 2:
                more()
            body += buf[:size]
            buf = buf[size + 2:]
            if limit is not None and len(body) >= limit:
                return status, headers, bytes(body), {}, False
        trailers = {}
        while True:
            while b"\r\n" not in buf:
                more()
            line, buf = buf.split(b"\r\n", 1)
            if not line:
                break
            k, v = line.decode("latin-1").split(":", 1)
            trailers[k.strip().lower()] = v.strip()
        return status, headers, bytes(body), trailers, True
    except EOFError:
        return None, {}, b"", {}, False


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


@unittest.skipUnless(API_APP and os.path.isfile(API_APP), "RINGFORK_API_APP (tests/apps/api_test_app.cpp) not built")
class Api(unittest.TestCase):
    def server(self, *args, workers=1, env=None):
        with mock.patch.object(rftest, "BIN", API_APP):
            s = rftest.Server(*args, workers=workers, env=env)
        self.addCleanup(s.stop)
        return s

    def test_answers_now_later_and_in_order(self):
        s = self.server()
        self.assertEqual(get(s.port, "/sync")[::2], (200, b"sync"))
        done = {}

        def slow():
            done["later"] = get(s.port, "/later/800")[::2]
            done["at"] = time.monotonic()

        t = threading.Thread(target=slow)
        t.start()
        time.sleep(0.1)  # let the slow request reach the worker first
        self.assertEqual(get(s.port, "/sync")[::2], (200, b"sync"))
        sync_at = time.monotonic()
        t.join(10)
        self.assertEqual(done["later"], (200, b"later 800"))
        self.assertLess(sync_at, done["at"], "a request answered later held up another one")
        # Pipelined: the later answer still comes first.
        with rftest.Conn(s.port, timeout=5) as c:
            c.send(b"GET /later/200 HTTP/1.1\r\nHost: t\r\n\r\nGET /sync HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(c.response()[::2], (200, b"later 200"))
            self.assertEqual(c.response()[::2], (200, b"sync"))

    def test_dropped_thrown_and_twice(self):
        s = self.server()
        worker = rftest.wait_until(lambda: s.workers(), 5, what="a worker")[0]
        self.assertEqual(get(s.port, "/drop")[0], 500)
        s.wait_log(r"GET /drop: the handler's responder was dropped without an answer; answering 500")
        self.assertEqual(get(s.port, "/drop-later")[0], 500)
        s.wait_log(r"GET /drop-later: the handler's responder was dropped without an answer")
        self.assertEqual(get(s.port, "/throw")[0], 500)
        s.wait_log(r"GET /throw: the handler threw: boom")
        self.assertEqual(get(s.port, "/twice")[::2], (200, b"first"))
        s.wait_log(r"GET /twice: an answer after the response was sent; ignored")
        self.assertEqual(get(s.port, "/sync")[::2], (200, b"sync"))
        self.assertEqual(s.workers(), [worker], "the worker did not keep serving")

    def test_throw_mid_stream_closes_the_connection(self):
        s = self.server()
        data, closed = get_until_close(s.port, "/throw-mid-stream", 5)
        self.assertTrue(closed)
        self.assertIn(b"Transfer-Encoding: chunked", data)
        self.assertIn(b"partial", data)
        self.assertNotIn(b"\r\n0\r\n\r\n", data, "a cut-off stream must not look complete")
        s.wait_log(r"boom mid-stream")
        self.assertEqual(get(s.port, "/sync")[::2], (200, b"sync"))

    def test_stream_backpressure_bounds_memory(self):
        s = self.server()
        worker = rftest.wait_until(lambda: s.workers(), 5, what="a worker")[0]
        get(s.port, "/sync")
        before = rss_kb(worker)
        chunks = 800  # 50 MiB, read slowly through a small receive buffer
        sock = small_buffer_get(self, s.port, f"/stream/{chunks}")
        peak = [before]

        def watch():
            end = time.monotonic() + 60
            while not done.is_set() and time.monotonic() < end:
                peak[0] = max(peak[0], rss_kb(worker))
                time.sleep(0.02)

        done = threading.Event()
        t = threading.Thread(target=watch)
        t.start()
        try:
            status, headers, body, trailers, complete = read_chunked(sock, time.monotonic() + 60, slow=0.0005)
        finally:
            done.set()
            t.join(5)
        self.assertEqual(status, 200)
        self.assertTrue(complete)
        self.assertEqual(len(body), chunks * 64 * 1024)
        self.assertEqual(body[0:1], bytes([ord("a") + (chunks - 1) % 26]))
        self.assertIn("x-chunks-pending-at-end", trailers)
        grew = peak[0] - before
        print(f"\n  50 MiB streamed: worker RSS grew {grew} KiB at its peak", flush=True)
        self.assertLess(grew, 8 * 1024, "a streamed body was held in memory rather than written as it drained")

    def test_stream_notices_a_client_that_left(self):
        s = self.server()
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        sock.sendall(b"GET /stream/100000 HTTP/1.1\r\nHost: t\r\n\r\n")
        status, _, body, _, complete = read_chunked(sock, time.monotonic() + 10, limit=1 << 20)
        self.assertEqual(status, 200)
        self.assertFalse(complete)
        sock.close()
        rftest.wait_until(lambda: get(s.port, "/streams-closed")[2] == b"1", 10, what="the stream's on_close")
        s.wait_log(r"stream closed by the client")

    def test_request_view(self):
        s = self.server()
        status, headers, body = get(s.port, "/echo/aa/b/c.txt?q=x%20y+z&other=1", "X-Test: Value\r\n")
        self.assertEqual(status, 200)
        self.assertEqual(headers.get("x-echo"), "1")
        lines = dict(l.split("=", 1) for l in body.decode().strip().split("\n"))
        self.assertEqual(lines["method"], "GET")
        self.assertEqual(lines["path"], "/echo/aa/b/c.txt")
        self.assertEqual(lines["a"], "aa")
        self.assertEqual(lines["rest"], "b/c.txt")
        self.assertEqual(lines["q"], "x y z")
        self.assertEqual(lines["missing"], "<none>")
        self.assertEqual(lines["x-test"], "Value")
        self.assertEqual(lines["peer"], "127.0.0.1")
        self.assertEqual(lines["headers"], "2")
        # Path parameters are matched on the decoded path.
        self.assertIn("a=\u00fcber", get(s.port, "/echo/%C3%BCber/x")[2].decode())
        body = os.urandom(100_000)
        with rftest.Conn(s.port, timeout=5) as c:
            c.send(b"POST /echo-body HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            self.assertEqual(c.response()[::2], (200, body))

    def test_methods_head_and_404(self):
        s = self.server()
        status, headers, body = get(s.port, "/sync", method="HEAD")
        self.assertEqual((status, body, headers.get("content-length")), (200, b"", "4"))
        status, headers, _ = get(s.port, "/sync", method="POST")
        self.assertEqual((status, headers.get("allow")), (405, "GET, HEAD"))
        self.assertEqual(get(s.port, "/nothing-here")[0], 404)
        self.assertEqual(get(s.port, "/plaintext")[0], 404, "an app with routes has no embedded default")

    def test_send_file(self):
        root = tempfile.mkdtemp(prefix="rf-api-files-")
        self.addCleanup(shutil.rmtree, root, True)
        data = os.urandom(300_000)
        with open(os.path.join(root, "blob.bin"), "wb") as f:
            f.write(data)
        s = self.server(env={"API_TEST_ROOT": root})
        self.assertEqual(get(s.port, "/file/blob.bin")[::2], (200, data))
        status, headers, body = get(s.port, "/file/blob.bin", "Range: bytes=10-19\r\n")
        self.assertEqual((status, body, headers.get("content-range")), (206, data[10:20], f"bytes 10-19/{len(data)}"))
        etag = get(s.port, "/file/blob.bin")[1]["etag"]
        self.assertEqual(get(s.port, "/file/blob.bin", f"If-None-Match: {etag}\r\n")[0], 304)
        self.assertEqual(get(s.port, "/file/missing")[0], 404)
        self.assertEqual(get(s.port, "/file/%2e%2e/%2e%2e/etc/passwd")[0], 404)

    def test_a_header_with_crlf_is_never_sent(self):
        s = self.server()
        data, _ = get_until_close(s.port, "/bad-header", 3)
        self.assertTrue(data.startswith(b"HTTP/1.1 500"), data[:80])
        self.assertNotIn(b"Set-Cookie", data)

    def test_a_worker_not_ready_in_time_is_replaced(self):
        # The app's start hook holds READY for 3 s; with a 1 s budget no worker makes it.
        with mock.patch.object(rftest, "BIN", API_APP):
            s = rftest.Server("--worker-start-timeout", "1", workers=1, ready=False,
                              env={"API_TEST_START_DELAY_MS": "3000"})
        self.addCleanup(s.stop)
        s.wait_log(r"worker 0 \(pid \d+\) not ready within 1\.0 s: SIGKILL", 10)
        s.wait_log(r"hook on_worker_exit slot=0 pid=\d+ signal=9 expected=0", 10)
        self.assertEqual(s.count_log(r"ready: \d+ workers serving"), 0)

    # Task calls from handlers (tests/apps/api_test_tasks.cpp), through the real pool.

    def call(self, port, name, body=b"", query="", timeout=15.0):
        status, _, out = taskutil.http(port, "POST", f"/call/{name}{query}", body, timeout=timeout)
        self.assertEqual(status, 200)
        line, _, rest = out.partition(b"\n")
        m = re.fullmatch(r"outcome=(\S+) signal=(\S+) message=(.*)", line.decode())
        self.assertTrue(m, line)
        return dict(zip(("outcome", "signal", "message"), m.groups())), rest

    def test_every_task_outcome_reaches_the_handler(self):
        s = self.server("--task-timeout", "5", "--task-workers", "2")
        got, out = self.call(s.port, "echo", b"hello task")
        self.assertEqual((got["outcome"], out), ("ok", b"hello task"))
        got, _ = self.call(s.port, "fail")
        self.assertEqual(got["outcome"], "failed")
        self.assertIn("bad input", got["message"])
        got, _ = self.call(s.port, "crash")
        self.assertEqual((got["outcome"], got["signal"]), ("crashed", "6"))
        # The call's own timeout, not the pool's 5 s: the spinning job is killed at 700 ms.
        got, _ = self.call(s.port, "spin", query="?timeout=700&grace=200")
        self.assertEqual(got["outcome"], "timed_out")
        self.assertIn("timed out after 700 ms", got["message"])
        got, _ = self.call(s.port, "no-such-task")
        self.assertEqual((got["outcome"], got["message"]), ("failed", "no such task"))
        self.assertEqual(get(s.port, "/call-cancel", timeout=15)[::2], (200, b"outcome=cancelled"))
        # The runners that died (crash, spin) were replaced: calls still work.
        self.assertEqual(self.call(s.port, "echo", b"again")[1], b"again")

    def test_queue_full_and_a_client_that_leaves(self):
        s = self.server("--task-workers", "1", "--task-queue", "1", "--admin", "127.0.0.1:0")
        admin = int(s.wait_log(r"admin: http://127\.0\.0\.1:(\d+)/").group(1))
        held = []
        for _ in range(2):  # one runs, one waits in the queue
            c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
            held.append(c)
            c.sendall(b"POST /call/slow HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
        rftest.wait_until(lambda: (lambda t: (t["running"], t["queued"]) == (1, 1))(rftest.admin_stats(admin)["tasks"]),
                          10, what="one slow job running and one queued")
        got, _ = self.call(s.port, "echo", b"x")
        self.assertEqual((got["outcome"], got["message"]), ("queue_full", "the task queue is full"))
        # Both clients reset their connections: their calls are cancelled, the running one
        # stopped and the queued one never started.
        for c in held:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        rftest.wait_until(lambda: s.count_log(r"task slow job [0-9a-f]+: cancelled") == 2, 15,
                          what="both calls cancelled")
        self.assertEqual(self.call(s.port, "echo", b"x")[0]["outcome"], "ok")

    def test_chunks_stream_with_backpressure(self):
        s = self.server()
        chunks = 200  # 12.5 MiB, read slowly through a small receive buffer
        sock = small_buffer_get(self, s.port, f"/call-stream/{chunks}")
        status, _, body, trailers, complete = read_chunked(sock, time.monotonic() + 60, slow=0.0005)
        self.assertEqual((status, complete), (200, True))
        # The chunks, what the function returned ("end"), then the handler's own "|end".
        self.assertEqual(len(body), chunks * 64 * 1024 + len(b"end|end"))
        self.assertTrue(body.endswith(b"xend|end"))
        firsts = bytes(body[i * 65536] for i in range(chunks))
        self.assertEqual(firsts, bytes(ord("a") + i % 26 for i in range(chunks)), "chunks lost or out of order")
        peak = int(trailers["x-peak-pending"])
        print(f"\n  12.5 MiB of task output streamed: at most {peak} bytes waited in the worker", flush=True)
        self.assertLess(peak, 1 << 20, "the call's output was not held back while the client was behind")
        # A client that leaves mid-stream: the call made for it is cancelled (the drip task
        # emits slowly, so it cannot end by itself first).
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        sock.sendall(b"GET /call-stream/0?task=drip HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertFalse(read_chunked(sock, time.monotonic() + 10, limit=4096)[4])
        sock.close()
        s.wait_log(r"task drip job [0-9a-f]+: cancelled", 15)

    def test_hooks(self):
        s = self.server(workers=2)
        log = s.log()
        self.assertRegex(log, r"hook on_starting")
        self.assertEqual(s.count_log(r"hook on_worker_start slot="), 2)
        # READY waited for the deferred start: both "done" lines precede the ready line.
        lines = log.splitlines()
        ready_at = next(i for i, l in enumerate(lines) if re.search(r"ready: \d+ workers serving", l))
        self.assertEqual(sum(1 for l in lines[:ready_at] if "deferred start done" in l), 2)
        s.wait_log(r"hook on_ready")
        # A worker killed by a signal still gets its exit hook, from the master.
        victim = s.workers()[0]
        os.kill(victim, signal.SIGKILL)
        s.wait_log(rf"hook on_worker_exit slot=\d pid={victim} signal=9 expected=0 reason=signal 9")
        rftest.wait_until(lambda: len(s.workers()) == 2, 10, what="the slot refilled")
        s.signal(signal.SIGHUP)
        s.wait_log(r"hook on_reload")
        rftest.wait_until(lambda: s.count_log(r"hook on_ready") >= 2, 15, what="on_ready after the reload")
        rftest.wait_until(lambda: s.count_log(r"hook on_drain") >= 2, 10, what="on_drain in the old workers")
        rftest.wait_until(lambda: s.count_log(r"expected=1") >= 2, 10, what="the drained workers' exit hooks")
        s.signal(signal.SIGTERM)
        self.assertEqual(s.wait_exit(15), 0)
        s.wait_log(r"hook on_exit")


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
