"""ringfork as a C++ library: an app's handlers answering now, later, from other threads,
streamed with backpressure, dropped or throwing; request views; files; task calls; every
hook. The installed package and its examples are in test_library_package.py."""
import os
import re
import shutil
import signal
import socket
import struct
import tempfile
import threading
import time
import unittest
from unittest import mock

import rftest
import taskutil
from library_helpers import API_APP, get, read_chunked


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


if __name__ == "__main__":
    rftest.main()
