"""What the library's process tests share: where the build put the API test app and the
build and source trees, a one-shot request, and a reader of one chunked response."""
import os
import time

import rftest

API_APP = os.environ.get("RINGFORK_API_APP")
BUILD_DIR = os.environ.get("RINGFORK_BUILD_DIR")
SOURCE_DIR = os.environ.get("RINGFORK_SOURCE_DIR") or os.path.join(os.path.dirname(__file__), "../..")


def get(port, path, headers="", timeout=5.0, method="GET"):
    with rftest.Conn(port, timeout=timeout) as c:
        c.send(f"{method} {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n".encode())
        return c.response(head=method == "HEAD")


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
