"""Every response byte is the byte the server meant to send, even when a client pipelines
requests while reading slowly: output appended while a send is in flight must never move
or free the memory that send is reading (the kernel reads it, so ASan cannot see this).

glibc's MALLOC_PERTURB_ fills freed memory with a known byte, so a send from freed memory
shows up as wrong body bytes rather than as plausible old data."""
import os
import shutil
import socket
import tempfile
import threading
import time
import unittest

import rftest

PERTURB = {"MALLOC_PERTURB_": "165"}


def slow_pipelined(port, requests, expected, read_rate=2 << 20, send_factor=1.5, deadline_s=60.0):
    """Sends `requests` (a list of request bytes) from one thread at a pace that asks for
    `send_factor` times more response bytes per second than the main thread reads
    (`read_rate` bytes per second, through an 8 KiB receive buffer). `expected` is a list of
    bodies, one per request, each checked byte for byte with a 200 status. The server's
    socket buffer fills within a second or so, and from then on its sends wait for the reader
    while new requests keep arriving: the case where output must not move under a send."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.connect(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    errors = []
    count = len(requests)
    seen = 0
    tick = 0.002
    per_response = 200 + sum(len(b) for b in expected) / count  # 200: about a response head
    per_tick = max(1, int(read_rate * send_factor * tick / per_response))
    chunk = max(1024, int(read_rate * tick))

    def sender():
        try:
            start = time.monotonic()
            for n, i in enumerate(range(0, count, per_tick)):
                delay = start + n * tick - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                s.sendall(b"".join(requests[i:i + per_tick]))
        except OSError as e:  # reported below
            errors.append(e)

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    buf = bytearray()
    end = time.monotonic() + deadline_s
    s.settimeout(0.5)
    try:
        while seen < count:
            if time.monotonic() > end:
                raise AssertionError(f"only {seen} of {count} responses within {deadline_s}s")
            try:
                data = s.recv(chunk)
            except socket.timeout:
                continue
            if not data:
                raise AssertionError(f"connection closed after {seen} of {count} responses")
            buf += data
            while True:
                head_end = buf.find(b"\r\n\r\n")
                if head_end < 0:
                    break
                lines = bytes(buf[:head_end]).decode("latin-1").split("\r\n")
                if not lines[0].startswith("HTTP/1.1 "):
                    raise AssertionError(f"response {seen}: broken framing, status line {lines[0]!r}")
                length = None
                for line in lines[1:]:
                    k, _, v = line.partition(":")
                    if k.strip().lower() == "content-length":
                        length = int(v.strip())
                if length is None:
                    raise AssertionError(f"response {seen}: no Content-Length in {lines!r}")
                if len(buf) < head_end + 4 + length:
                    break
                body = bytes(buf[head_end + 4:head_end + 4 + length])
                del buf[:head_end + 4 + length]
                status = int(lines[0].split()[1])
                want = expected[seen]
                if status != 200 or body != want:
                    first = next((i for i, (a, b) in enumerate(zip(body, want)) if a != b), None)
                    raise AssertionError(
                        f"response {seen}: status {status}, {len(body)} body bytes, expected {len(want)}; "
                        + (f"first difference at {first}: got {body[first:first + 32]!r}" if first is not None
                           else f"body starts {body[:64]!r}"))
                seen += 1
            time.sleep(tick)
    finally:
        s.close()
        t.join(5)
    assert not errors, errors
    return seen


def repeat(request, body, total_bytes=9 << 20):
    """Enough copies of `request` for about `total_bytes` of responses (several seconds of
    reading), and the body each must carry."""
    n = max(50, total_bytes // (200 + len(body)))
    return [request] * n, [body] * n


def fetch(port, path):
    with rftest.Conn(port) as c:
        c.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        status, _, body = c.response()
    assert status == 200, (path, status)
    return body


class OutputIntegrity(unittest.TestCase):
    def test_embedded_default_welcome_page(self):
        with rftest.Server(workers=1, env=PERTURB) as srv:
            page = fetch(srv.port, "/")
            reqs, want = repeat(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n", page)
            self.assertEqual(slow_pipelined(srv.port, reqs, want), len(reqs))

    def test_small_demo_responses(self):
        with rftest.Server("--demo", workers=1, env=PERTURB) as srv:
            reqs, want = repeat(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n", b"Hello, World!")
            self.assertEqual(slow_pipelined(srv.port, reqs, want), len(reqs))

    def test_listings_and_files(self):
        root = tempfile.mkdtemp(prefix="rf-integrity-")
        try:
            listed = os.path.join(root, "dir")
            os.mkdir(listed)
            for i in range(400):  # a listing of tens of KiB, rebuilt for every request
                open(os.path.join(listed, f"entry-{i:04d}-with-a-longer-name.txt"), "w").close()
            data = bytes((i * 7 + 3) % 251 for i in range(20000))
            with open(os.path.join(root, "file.bin"), "wb") as f:
                f.write(data)
            with rftest.Server("--root", root, "--autoindex", workers=1, env=PERTURB) as srv:
                listing = fetch(srv.port, "/dir/")
                self.assertIn(b"entry-0399", listing)
                reqs, want = repeat(b"GET /dir/ HTTP/1.1\r\nHost: t\r\n\r\n", listing)
                self.assertEqual(slow_pipelined(srv.port, reqs, want), len(reqs))
                reqs, want = repeat(b"GET /file.bin HTTP/1.1\r\nHost: t\r\n\r\n", data)
                self.assertEqual(slow_pipelined(srv.port, reqs, want), len(reqs))
                # Both kinds interleaved, so listings are built while file bodies are in flight.
                n = (9 << 20) // (len(listing) + len(data) + 400)
                reqs = [b"GET /dir/ HTTP/1.1\r\nHost: t\r\n\r\n", b"GET /file.bin HTTP/1.1\r\nHost: t\r\n\r\n"] * n
                self.assertEqual(slow_pipelined(srv.port, reqs, [listing, data] * n), 2 * n)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def test_task_answers_behind_slow_sends(self):
        # A task's answer is written when its job ends, which can be while the responses
        # before it are still being sent to a slow reader.
        with rftest.Server("--task", "echo=cat", workers=1, env=PERTURB) as srv:
            page = fetch(srv.port, "/")
            reqs, want = [], []
            for i in range(12):
                body = f"job {i} ".encode() * 20
                reqs += [b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"] * 600
                want += [page] * 600
                reqs.append(b"POST /tasks/echo HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                want.append(body)
            self.assertEqual(slow_pipelined(srv.port, reqs, want), len(reqs))


if __name__ == "__main__":
    rftest.main()
