"""Upstreams for the proxy tests: the Node application (tests/process/upstream_app.js, on
Node's http module), Python's http.server, and a raw socket server for hostile answers;
plus the test pattern both sides hash, a worker's resident memory, and ringfork
supervising an app of its own (supervised_app.js, supervised_app.py)."""
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import rftest

HERE = os.path.dirname(os.path.abspath(__file__))
APP_JS = os.path.join(HERE, "upstream_app.js")

# Byte i of the pattern is (i * 131 + 7) mod 256, repeating every 64 KiB (as upstream_app.js).
BLOCK = bytes((i * 131 + 7) & 255 for i in range(65536))


def pattern_sha256(size):
    """sha256 of the first `size` bytes of the pattern."""
    h = hashlib.sha256()
    left = size
    while left:
        n = min(left, len(BLOCK))
        h.update(BLOCK[:n])
        left -= n
    return h.hexdigest()


class NodeApp:
    """upstream_app.js on 127.0.0.1:PORT (0: a free one) or unix:PATH."""

    def __init__(self, where="0"):
        self.proc = subprocess.Popen([rftest.program("node"), APP_JS, str(where)], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, start_new_session=True)
        line = self._first_line(10.0)
        if not line.startswith("LISTENING "):
            self.stop()
            raise AssertionError(f"node upstream did not start: {line!r}")
        self.where = line.split(" ", 1)[1]
        self.port = int(self.where) if self.where.isdigit() else None

    def _first_line(self, timeout):
        box = []
        t = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        return box[0].strip() if box else ""

    @property
    def address(self):
        return f"127.0.0.1:{self.port}" if self.port else f"unix:{self.where}"

    @property
    def pid(self):
        return self.proc.pid

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def read_head(conn, limit=65536):
    """Reads one request head from a socket: (head bytes, bytes after it) or (None, b"")."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < limit:
        chunk = conn.recv(65536)
        if not chunk:
            return None, data
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


class RawUpstream:
    """A TCP server on 127.0.0.1 whose `answer(conn, index)` handles each accepted
    connection (index counts from 0) in its own thread. Records how many connections came
    and how many bytes they sent, so a test can show that nothing reached it."""

    def __init__(self, answer):
        self.answer = answer
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.received = 0
        self.closed = 0
        self._lock = threading.Lock()
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def _serve(self):
        self.sock.settimeout(0.1)
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                index = self.connections
                self.connections += 1
            threading.Thread(target=self._run, args=(conn, index), daemon=True).start()

    def _run(self, conn, index):
        counted = _Counting(conn, self)
        try:
            self.answer(counted, index)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
            with self._lock:
                self.closed += 1

    def stop(self):
        self._stop = True
        self._thread.join(2)
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class _Counting:
    """A socket that counts the bytes it receives into its server's total."""

    def __init__(self, conn, server):
        self._conn = conn
        self._server = server

    def recv(self, n):
        data = self._conn.recv(n)
        with self._server._lock:
            self._server.received += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self._conn, name)


def rss_kib(pid):
    """Resident memory of a process in KiB (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class RssWatch:
    """Samples a process's resident memory in the background; `peak` is the highest seen."""

    def __init__(self, pid, every=0.05):
        self.pid = pid
        self.start = rss_kib(pid)
        self.peak = self.start
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kib(self.pid))
            self._stop.wait(self._every)

    def stop(self):
        self._stop.set()
        self._thread.join(2)
        self.peak = max(self.peak, rss_kib(self.pid))
        return self.peak


def worker_pid(server):
    """The one worker of a Server started with --workers 1."""
    return rftest.wait_until(lambda: (server.workers() or [None])[0], 10, what="the worker")


def wait_free_port():
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    """A parsed response: status, header list (lower-case names), body, how it was framed."""

    def __init__(self, status, headers, body, framing):
        self.status = status
        self.headers = headers
        self.body = body
        self.framing = framing  # "length", "chunked", "close" or "none"

    def header(self, name):
        for k, v in self.headers:
            if k == name:
                return v
        return None


class Client(rftest.Conn):
    """A keep-alive client connection that reads Content-Length, chunked and
    close-delimited responses."""

    def __init__(self, port, timeout=10.0):
        super().__init__(port, timeout)

    def _more(self, deadline, eof_ok=False):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for a response (have {self.buf[:200]!r})")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(1 << 20)
        except ConnectionResetError:
            chunk = b""
        if not chunk and not eof_ok:
            raise AssertionError(f"connection closed early (have {self.buf[:300]!r})")
        self.buf += chunk
        return bool(chunk)

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            self._more(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def response(self, head=False, sink=None):
        """The next response. With `sink`, body bytes go to sink(bytes) instead of .body."""
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\r\n\r\n" not in self.buf:
                self._more(deadline)
            head_bytes, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head_bytes.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            if status >= 200 or status == 101:
                break
        headers = []
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers.append((k.strip().lower(), v.strip()))
        names = dict(headers)
        body = bytearray()
        out = sink or body.extend
        if head or status in (204, 304):
            return Response(status, headers, b"", "none")
        if "transfer-encoding" in names:
            while True:
                size = int(self._line(deadline).split(b";")[0], 16)
                if size == 0:
                    while self._line(deadline) != b"":
                        pass
                    return Response(status, headers, bytes(body), "chunked")
                while len(self.buf) < size + 2:
                    self._more(deadline)
                out(self.buf[:size])
                self.buf = self.buf[size + 2:]
        if "content-length" in names:
            left = int(names["content-length"])
            while left:
                if not self.buf:
                    self._more(deadline)
                n = min(left, len(self.buf))
                out(self.buf[:n])
                self.buf = self.buf[n:]
                left -= n
            return Response(status, headers, bytes(body), "length")
        while self._more(deadline, eof_ok=True):
            out(self.buf)
            self.buf = b""
        out(self.buf)
        self.buf = b""
        return Response(status, headers, bytes(body), "close")

    def closed(self, timeout=5.0):
        """True when the server closes the connection within the timeout."""
        return super().closed(timeout)


def request(port, method, path, body=None, headers=(), version="1.1", timeout=10.0):
    """One request on a fresh connection; the Response."""
    with Client(port, timeout) as c:
        extra = "".join(f"{h}\r\n" for h in headers)
        if body is not None:
            extra += f"Content-Length: {len(body)}\r\n"
        c.send(f"{method} {path} HTTP/{version}\r\nHost: t\r\n{extra}\r\n".encode() + (body or b""))
        return c.response(head=method == "HEAD")


SUPERVISED_JS = os.path.join(HERE, "supervised_app.js")
SUPERVISED_PY = os.path.join(HERE, "supervised_app.py")


class AppStateDir:
    """A mixin for test cases whose supervised apps read switches from files in `self.dir`
    (passed as APP_DIR): touch(name) sets one, removing the file clears it."""

    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="rf-app-state-")
        os.chmod(self.dir, 0o755)
        self.addCleanup(shutil.rmtree, self.dir, True)

    def touch(self, name):
        with open(os.path.join(self.dir, name), "w"):
            pass


class AppServer:
    """ringfork supervising one app (`--app NAME=COMMAND`, proxied at `/`), with a control
    socket for `ringfork ctl apps`. Stopping it kills the master's whole session, app
    instances included, whatever state a failed test left them in."""

    def __init__(self, command, *args, name="web", instances=1, workers=1, env=None, ready=True, timeout=20.0):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="rf-apps-")
        self.control = os.path.join(self.dir, "ctl.sock")
        self.server = rftest.Server("--app", f"{name}={command}", "--app-instances", f"{name}={instances}",
                                    "--proxy", f"/={name}", "--control", self.control, *args, workers=workers,
                                    env=env, ready=ready, timeout=timeout)

    def ctl(self, *args):
        return subprocess.run([rftest.BIN, "ctl", "--control", self.control, *args], capture_output=True, text=True,
                              timeout=15)

    def instances(self):
        """`ringfork ctl apps json`: one dict per instance."""
        r = self.ctl("apps", "json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    def ready(self):
        """The ready instances, by index."""
        return sorted((i for i in self.instances() if i["state"] == "ready"), key=lambda i: i["index"])

    def wait_ready(self, count, exclude=(), timeout=15.0):
        """Waits until `count` instances are ready, none of them a pid in `exclude`."""
        def check():
            ready = self.ready()
            return ready if len(ready) == count and not {i["pid"] for i in ready} & set(exclude) else None
        return rftest.wait_until(check, timeout, interval=0.05, what=f"{count} ready instances of {self.name}")

    def stop(self):
        try:
            rftest.kill_session(self.server.pid)
            self.server.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def node_command(script=SUPERVISED_JS):
    return f"{rftest.program('node')} {script}"


def process_group_members(pgid):
    """Live (non-zombie) processes of process group `pgid`."""
    return rftest.group_pids(pgid)
