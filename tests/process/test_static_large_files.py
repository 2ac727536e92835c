"""Black-box static files too large to be read at once: a 200 MiB file downloaded whole,
rate-limited, by ranges and concurrently with small requests; clients aborting mid-body,
random pipelined ranges and resets, a cold file's disk waits, a file truncated mid-body
(no descriptor or thread left behind), and a reader that stalls until --send-timeout."""
import concurrent.futures
import hashlib
import os
import random
import socket
import struct
import subprocess
import time

import rftest
import static_helpers
from static_helpers import SMALL, request, sha256_file, write


class StaticLargeFile(static_helpers.StaticCase):
    SIZE = 200 << 20

    @classmethod
    def build(cls, www):
        h = hashlib.sha256()
        with open(os.path.join(www, "big.bin"), "wb") as f:
            for _ in range(cls.SIZE >> 20):
                chunk = os.urandom(1 << 20)
                h.update(chunk)
                f.write(chunk)
        cls.digest = h.hexdigest()
        write(os.path.join(www, "small.txt"), SMALL)

    def url(self, path):
        return f"http://127.0.0.1:{self.server.port}{path}"

    def out(self, name):
        path = os.path.join(self.base, name)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        return path

    def curl(self, *args, timeout=20):
        p = subprocess.run([rftest.program("curl"), "-s", "-S", "-w", "%{http_code}", *args], capture_output=True, text=True,
                           timeout=timeout)
        self.assertEqual(p.returncode, 0, p.stderr)
        return int(p.stdout.strip()[-3:])

    def start_curls(self, argvs):
        """One background `curl -s` per argument list, killed at cleanup if still running."""
        procs = [subprocess.Popen([rftest.program("curl"), "-s", *argv]) for argv in argvs]

        def stop():
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()
        self.addCleanup(stop)
        return procs

    def test_download_whole(self):
        out = self.out("whole.bin")
        self.assertEqual(self.curl("-o", out, self.url("/big.bin")), 200)
        self.assertEqual(os.path.getsize(out), self.SIZE)
        self.assertEqual(sha256_file(out), self.digest)

    def test_download_rate_limited(self):
        out = self.out("limited.bin")
        self.assertEqual(self.curl("--limit-rate", "100M", "-o", out, self.url("/big.bin")), 200)
        self.assertEqual(os.path.getsize(out), self.SIZE)
        self.assertEqual(sha256_file(out), self.digest)

    def test_range_middle(self):
        out = self.out("middle.bin")
        first = self.SIZE // 2 - (5 << 20)
        last = first + (10 << 20) - 1
        self.assertEqual(self.curl("-r", f"{first}-{last}", "-o", out, self.url("/big.bin")), 206)
        with open(os.path.join(self.www, "big.bin"), "rb") as f:
            f.seek(first)
            want = hashlib.sha256(f.read(last - first + 1)).hexdigest()
        self.assertEqual(os.path.getsize(out), last - first + 1)
        self.assertEqual(sha256_file(out), want)

    def test_multiple_large_ranges(self):
        ranges = [(0, (1 << 20) - 1), (100 << 20, (110 << 20) - 1), (self.SIZE - 100, self.SIZE - 1)]
        spec = "bytes=" + ",".join(f"{a}-{b}" for a, b in reversed(ranges))
        c = self.conn(timeout=20)
        c.send(request("GET", "/big.bin", [("Range", spec)]))
        status, h, body = c.response()
        self.assertEqual(status, 206)
        with open(os.path.join(self.www, "big.bin"), "rb") as f:
            data = bytearray(self.SIZE)  # only the requested spans are filled and compared
            for first, last in ranges:
                f.seek(first)
                data[first:last + 1] = f.read(last - first + 1)
        self.assert_multipart(h, body, bytes(data), ranges, "application/octet-stream")

    def test_concurrent_downloads_do_not_block(self):
        outs = [self.out(f"conc{i}.bin") for i in range(2)]
        procs = self.start_curls([["--limit-rate", "60M", "-o", o, self.url("/big.bin")] for o in outs])
        rftest.wait_until(lambda: all(os.path.exists(o) and os.path.getsize(o) > (8 << 20) for o in outs),
                          10, what="both downloads under way")
        for _ in range(3):
            start = time.monotonic()
            status, h, body = self.fetch("GET", "/small.txt")
            took = time.monotonic() - start
            self.assertEqual((status, body), (200, SMALL))
            self.assertLess(took, 1.0, "a small GET waited behind the large downloads")
        self.assertTrue(all(p.poll() is None for p in procs), "downloads ended before the small GETs (not concurrent)")
        for p in procs:
            self.assertEqual(p.wait(20), 0)
        for o in outs:
            self.assertEqual(sha256_file(o), self.digest)

    def test_aborted_downloads_leave_no_descriptors(self):
        # Bodies this large are spliced through a pipe per connection; a client that leaves
        # mid-body must not leave its pipe (or its socket) open in the worker.
        fds = self.io_descriptors

        def abort_one(linger_reset):
            s = self.server.connect()
            try:
                s.sendall(request("GET", "/big.bin"))
                got = 0
                while got < (256 << 10):
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, "server closed before sending 256 KiB")
                    got += len(chunk)
                if linger_reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            finally:
                s.close()

        abort_one(False)  # a pipe may now sit in a worker's pool; that is the baseline
        rftest.wait_until(lambda: self.fetch("GET", "/small.txt")[2] == SMALL, 5, what="server answering")
        before = fds()
        for i in range(12):
            abort_one(i % 2 == 1)
        # Each worker keeps at most one more empty pipe than before (these ran one at a time).
        rftest.wait_until(lambda: fds() <= before + 2 * len(self.start_workers), 5,
                          what=f"worker descriptors back near {before} (now {fds()})")
        status, _, body = self.fetch("GET", "/small.txt")
        self.assertEqual((status, body), (200, SMALL))

    def test_cold_file_threads_bounded(self):
        # With the file's pages dropped from the page cache, each splice waits for the disk
        # on one of the ring's kernel threads; 48 concurrent ranges must all arrive intact
        # and queue for at most 4 + 16 threads per worker, not start one thread each (on a
        # fast disk few are ever needed at once).
        path = os.path.join(self.www, "big.bin")
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        span = 4 << 20
        outs = [self.out(f"cold{i}.bin") for i in range(48)]
        procs = self.start_curls([["-r", f"{i * span}-{(i + 1) * span - 1}", "-o", o, self.url("/big.bin")]
                                  for i, o in enumerate(outs)])
        most = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            for w in self.server.workers():
                try:
                    most = max(most, len(os.listdir(f"/proc/{w}/task")))
                except FileNotFoundError:
                    pass
            time.sleep(0.005)
        self.assertTrue(all(p.poll() == 0 for p in procs), "not every ranged download finished")
        self.assertLessEqual(most, 1 + 4 + 16, "threads in one worker while serving a cold file")
        with open(path, "rb") as f:
            for i, o in enumerate(outs):
                f.seek(i * span)
                self.assertEqual(sha256_file(o), hashlib.sha256(f.read(span)).hexdigest())
        print(f"\n  most threads in one worker: {most}", flush=True)

    def test_random_ranges_pipelining_and_aborts(self):
        # 120 clients, 16 at a time: pipelined whole-file, multipart and small requests,
        # each reading a random amount, then closing or resetting. The workers must stay up
        # and end with no socket or pipe left behind (a sanitizer build checks the rest).
        def sockets():
            return self.io_descriptors(("socket",))

        sockets_before = sockets()

        def client(seed):
            r = random.Random(seed)
            reqs = b""
            for _ in range(r.randint(1, 3)):
                kind = r.random()
                if kind < 0.4:
                    specs = []
                    for _ in range(r.randint(1, 8)):
                        a = r.randrange(self.SIZE)
                        specs.append(f"{a}-{min(self.SIZE - 1, a + r.choice([0, 10, 70000, 300000]))}")
                    reqs += request("GET", "/big.bin", [("Range", "bytes=" + ",".join(specs))])
                elif kind < 0.7:
                    reqs += request("GET", "/big.bin")
                else:
                    reqs += request("GET", "/small.txt")
            s = self.server.connect()
            try:
                s.settimeout(2)
                s.sendall(reqs)
                want, got = r.choice([0, 1000, 100000, 4 << 20]), 0
                deadline = time.monotonic() + 5
                while got < want and time.monotonic() < deadline:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += len(chunk)
                if r.random() < 0.5:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass  # a reset from our own abort of an earlier client is no finding
            finally:
                s.close()

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(client, range(120)))
        rftest.wait_until(lambda: sockets() <= sockets_before, 10,
                          what=f"every client connection closed (sockets {sockets()} vs {sockets_before})")
        # Only empty pipes kept for reuse remain: at most 64 per worker, two descriptors each.
        self.assertLessEqual(self.io_descriptors(("pipe",)), 2 * 64 * len(self.start_workers))
        status, _, body = self.fetch("GET", "/small.txt")
        self.assertEqual((status, body), (200, SMALL))
        self.assertSameWorkers()

    def test_file_truncated_mid_body(self):
        # The length was promised in the head; when the file shrinks under a transfer the
        # worker must end that connection (short body), log it, and go on serving.
        path = os.path.join(self.www, "shrinks.bin")
        write(path, os.urandom(64 << 20))
        s = self.server.connect()
        self.addCleanup(s.close)
        s.sendall(request("GET", "/shrinks.bin"))
        s.settimeout(10)
        data = rftest.recv_until(s, b"\r\n\r\n", "closed before the head")
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertIn(b"Content-Length: 67108864", head)
        with open(path, "r+b") as f:
            f.truncate(1 << 20)
        got = len(body)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        else:
            self.fail("connection not ended after the file shrank")
        self.assertLess(got, 64 << 20)
        self.server.wait_log(r"(splice|read).*static file", 5)
        status, _, body = self.fetch("GET", "/small.txt")
        self.assertEqual((status, body), (200, SMALL))

    def test_zz_same_workers(self):
        self.assertSameWorkers()


class StaticStalledReader(static_helpers.StaticCase):
    """A client that asks for a large file and never reads is cut off by --send-timeout."""
    server_args = ("--send-timeout", "2")
    SIZE = 64 << 20

    @classmethod
    def build(cls, www):
        write(os.path.join(www, "big.bin"), os.urandom(cls.SIZE))
        write(os.path.join(www, "small.txt"), SMALL)

    def test_stalled_reader_closed_and_released(self):
        fds = self.io_descriptors

        before = fds()
        s = socket.socket()
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        s.connect(("127.0.0.1", self.server.port))
        s.sendall(request("GET", "/big.bin"))
        # While the body is under way the worker holds the socket and a pipe.
        rftest.wait_until(lambda: fds() >= before + 1, 5, what="connection open in a worker")
        rftest.wait_until(lambda: fds() <= before, 10, what=f"stalled connection closed (fds {fds()} vs {before})")
        got = 0
        s.settimeout(5)
        try:
            while got <= self.SIZE:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
        except ConnectionResetError:
            pass
        self.assertLess(got, self.SIZE)
        status, _, body = self.fetch("GET", "/small.txt")
        self.assertEqual((status, body), (200, SMALL))

    def test_zz_same_workers(self):
        self.assertSameWorkers()


if __name__ == "__main__":
    rftest.main()
