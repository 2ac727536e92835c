"""Shared harness for process tests: start build/ringfork on port 0, wait on conditions
with deadlines (never fixed sleeps), talk raw HTTP over loopback, stop and clean up."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

# The latency bounds an issue sets hold for the release build; the sanitizer build runs the
# same code two to three times slower, so its tests allow that much more.
SANITIZED = os.environ.get("RINGFORK_SANITIZED") == "1"
LATENCY_FACTOR = 2.5 if SANITIZED else 1.0

BIN = os.environ.get("RINGFORK_BIN") or os.path.join(os.path.dirname(__file__), "../../build/ringfork")
DEPS_SH = os.path.join(os.path.dirname(__file__), "../../scripts/deps.sh")

# Every program a process test runs, and the Debian package that provides it. A test gets a
# program only through program(), which fails (never skips) when the program is missing or
# when scripts/deps.sh test would not install its package on a fresh machine.
PROGRAMS = {
    "wrk": "wrk",
    "curl": "curl",
    "slowhttptest": "slowhttptest",
    "promtool": "prometheus",
    "chromium": "chromium",
    "systemd-socket-activate": "systemd",
    "cmake": "cmake",
    "pkg-config": "pkg-config",
    "node": "nodejs",
    "prlimit": "util-linux",
    "setsid": "util-linux",
    "unshare": "util-linux",
    "mount": "mount",
    "umount": "mount",
    "python3": "python3",
}


def deps_test_packages():
    """The packages `scripts/deps.sh test` installs: the base list plus the test list."""
    with open(DEPS_SH) as f:
        text = f.read()
    base = re.search(r"^pkgs=\(([^)]*)\)", text, re.M)
    test = re.search(r"^\s*test\)\s*pkgs\+=\(([^)]*)\)", text, re.M)
    return set((base.group(1) if base else "").split()) | set((test.group(1) if test else "").split())


def program(name):
    """The path of `name`, a program a test runs; fails naming the program and deps.sh when
    it is missing or deps.sh does not install it."""
    pkg = PROGRAMS.get(name)
    if pkg is None:
        raise AssertionError(f"tests run '{name}', which is not in rftest.PROGRAMS: add it there with its "
                             f"Debian package, and the package to scripts/deps.sh test")
    if pkg not in deps_test_packages():
        raise AssertionError(f"tests run '{name}' (Debian package {pkg}), but scripts/deps.sh test does not "
                             f"install {pkg}: on a fresh machine this test would fail")
    path = shutil.which(name)
    if not path:
        raise AssertionError(f"'{name}' is not installed: run scripts/deps.sh test (it installs {pkg})")
    return path


def wait_until(pred, timeout=10.0, interval=0.01, what="condition"):
    """Polls pred() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def children(pid):
    """Direct child pids of pid (its workers, for the master)."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def socket_fds(pid):
    """Number of open socket descriptors of a process."""
    n = 0
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    n += 1
            except OSError:
                pass
    except OSError:
        pass
    return n


def names_user(args):
    return any(a == "--user" or a.startswith("--user=") for a in args)


class Server:
    """One ringfork master started with the given arguments on 127.0.0.1:0.

    Started as root, ringfork's children would run as nobody, who cannot read the suite's
    temporary directories (root's, mode 0700): unless a test names --user itself or passes
    keep_identity=False, the children keep the test's identity (--user root). The
    privilege drop has its own tests (test_privileges.py)."""

    def __init__(self, *args, workers=2, listen="127.0.0.1:0", ready=True, timeout=15.0, env=None, keep_identity=True, prefix=()):
        """`prefix` is a command that execs the binary in its place (["prlimit", "--nofile=256:256"])."""
        cmd = [*prefix, BIN]
        if listen:
            cmd += ["--listen", listen]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        if keep_identity and os.geteuid() == 0 and not names_user(args):
            cmd += ["--user", "root"]
        cmd += list(args)
        self.cmd = cmd
        self.lines = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True, env=None if env is None else {**os.environ, **env})
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = None
        self.ports = []
        if ready:
            self.wait_log(r"ready: \d+ workers serving", timeout)
            listening = self.wait_log(r"listening on (.*) with", timeout)
            self.ports = [int(p) for p in re.findall(r":(\d+)(?:,|$)", listening.group(1))]
            self.port = self.ports[0]

    def _read(self):
        for line in self.proc.stdout:
            with self._lock:
                self.lines.append(line.rstrip("\n"))

    def log(self):
        with self._lock:
            return "\n".join(self.lines)

    def wait_log(self, pattern, timeout=10.0):
        rx = re.compile(pattern)

        def find():
            with self._lock:
                for line in self.lines:
                    m = rx.search(line)
                    if m:
                        return m
            if self.proc.poll() is not None:
                self._reader.join(1)
                with self._lock:
                    for line in self.lines:
                        m = rx.search(line)
                        if m:
                            return m
                raise AssertionError(f"ringfork exited ({self.proc.returncode}) before /{pattern}/:\n{self.log()}")
            return None
        return wait_until(find, timeout, what=f"log /{pattern}/")

    def count_log(self, pattern):
        rx = re.compile(pattern)
        with self._lock:
            return sum(1 for line in self.lines if rx.search(line))

    @property
    def pid(self):
        return self.proc.pid

    def workers(self):
        """The HTTP worker processes (task runners, also children, are left out)."""
        return [p for p in children(self.pid) if alive(p) and comm(p) == "rf-worker"]

    def connect(self, timeout=5.0):
        s = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    def signal(self, sig):
        os.kill(self.pid, sig)

    def wait_exit(self, timeout=15.0):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"ringfork did not exit within {timeout}s:\n{self.log()}")

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        self._reader.join(2)
        if self.proc.stdout and not self._reader.is_alive():
            self.proc.stdout.close()
        # Under the sanitizer build a report in any process (workers included) fails the test.
        with self._lock:
            reports = [l for l in self.lines if "AddressSanitizer" in l or "LeakSanitizer" in l
                       or "runtime error:" in l]
        if reports:
            raise AssertionError("sanitizer report:\n" + "\n".join(reports[:20]) + "\n" + self.log()[-4000:])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def recv_until_close(sock, timeout=5.0, limit=64 << 20):
    """Reads until the peer closes or the deadline passes; returns (bytes, closed)."""
    sock.settimeout(0.2)
    data = bytearray()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(data) < limit:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return bytes(data), True
        if not chunk:
            return bytes(data), True
        data += chunk
    return bytes(data), False


def recv_more(sock, buf, deadline, what):
    """`buf` with the next bytes from `sock` appended (in place for a bytearray); fails when
    the deadline (monotonic) passes or the peer closes first, naming `what` was awaited and
    what came so far."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise AssertionError(f"timed out waiting for {what} (have {bytes(buf[:200])!r})")
    sock.settimeout(left)
    chunk = sock.recv(65536)
    if not chunk:
        raise AssertionError(f"connection closed while waiting for {what} (have {bytes(buf[:200])!r})")
    buf += chunk
    return buf


class Conn:
    """A client connection that keeps unread bytes between responses.

    The bytes received gather in a bytearray, which grows in place: appending to a bytes
    object copies all of it each time, and for a body of megabytes read 64 KiB at a time
    that copying (and the fresh mappings of a process whose allocator has not yet raised
    its mmap threshold) took seconds, more than the server's whole answer."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.timeout = timeout

    def send(self, data):
        self.sock.sendall(data)

    def response(self, head=False):
        """(status, headers, body) of the next response; HEAD responses have no body."""
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            self._more(deadline)
        end = self.buf.index(b"\r\n\r\n")
        lines = self.buf[:end].decode("latin-1").split("\r\n")
        self.buf = self.buf[end + 4:]  # slices keep the type: a test may have set bytes
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers.setdefault(k.strip().lower(), v.strip())
        length = 0 if head or status in (100, 101, 204, 304) else int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self._more(deadline)
        body = bytes(self.buf[:length])
        self.buf = self.buf[length:]
        return status, headers, body

    def closed(self, timeout=3.0):
        """True when the server closes the connection (EOF or reset) within the timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return False
            except ConnectionResetError:
                return True
            if not chunk:
                return True
            self.buf += chunk
        return False

    def _more(self, deadline):
        self.buf = recv_more(self.sock, self.buf, deadline, "a response")

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_requests(port, total, connections=4, batch=50):
    """Exactly `total` keep-alive requests over `connections` connections, pipelined in
    batches; every response must be a 200. Returns the number of 200s seen."""
    per = [total // connections + (1 if i < total % connections else 0) for i in range(connections)]
    ok = [0] * connections
    errors = []

    def run(i):
        try:
            with Conn(port, timeout=10) as c:
                left = per[i]
                while left:
                    n = min(batch, left)
                    c.send(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n" * n)
                    for _ in range(n):
                        status, _, body = c.response()
                        ok[i] += status == 200 and body == b"Hello, World!"
                    left -= n
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return sum(ok)


def admin_get(port, path, timeout=5.0):
    """(status, body) of GET http://127.0.0.1:port/path on the admin listener."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def admin_stats(port):
    """The admin listener's GET /stats document."""
    status, body = admin_get(port, "/stats")
    assert status == 200, status
    return json.loads(body)


def assert_port_released(port, timeout=2.0):
    """Connections to the port are refused and a plain socket can listen on it: no ringfork
    process holds its listener any more (TIME_WAIT leftovers are fine)."""
    def refused():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return False
        except ConnectionRefusedError:
            return True
    wait_until(refused, timeout, what="connections to the port to be refused")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
        probe.listen(1)


def main():
    unittest.main(verbosity=2)


# --- load generation (wrk), sessions, pid files: shared by the restart/upgrade tests ---

WRK_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def start_wrk(port, path="/plaintext", threads=2, connections=128, seconds=10):
    """Starts wrk in the background against http://127.0.0.1:port/path; end it with wrk_result."""
    return subprocess.Popen([program("wrk"), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
                             f"http://127.0.0.1:{port}{path}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_result(proc, timeout=30.0):
    """Waits for a wrk started by start_wrk and parses its output: a dict with output, rc,
    requests, socket_errors (connect/read/write/timeout counts, all 0 without the line),
    socket_errors_total and non2xx (0 without the line)."""
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(5)
        raise AssertionError(f"wrk did not finish within {timeout}s:\n{out}")
    m = re.search(r"(\d+) requests in", out)
    e = WRK_SOCKET_ERRORS.search(out)
    n = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = dict(zip(("connect", "read", "write", "timeout"), (int(x) for x in e.groups()) if e else (0,) * 4))
    return {"output": out, "rc": proc.returncode, "requests": int(m.group(1)) if m else 0,
            "socket_errors": errors, "socket_errors_total": sum(errors.values()),
            "has_socket_errors_line": bool(e), "non2xx": int(n.group(1)) if n else 0}


def stop_wrk(proc):
    """Cleanup for a wrk that a failing test left running."""
    if proc.poll() is None:
        proc.kill()
    try:
        proc.communicate(timeout=5)
    except (subprocess.TimeoutExpired, ValueError):
        pass


def tcp_sockets():
    """(local port, remote port, state, rx_queue) of every TCP socket in /proc/net/tcp{,6}."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                rows = [line.split() for line in f]
        except OSError:
            continue
        for fields in rows:
            yield (int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16), fields[3],
                   int(fields[4].split(":")[1], 16))


def established(port):
    """Established loopback TCP connections whose local (server) port is `port`."""
    return sum(1 for local, _, state, _ in tcp_sockets() if state == "01" and local == port)


def _live_pids_where(field, value):
    """Live (non-zombie) processes whose /proc/PID/stat field `field` (counted from the
    state, 0, after the command name) is `value`."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[field]) == value:
            out.append(int(d))
    return out


def session_pids(sid):
    """Live (non-zombie) processes whose session id is `sid`."""
    return _live_pids_where(3, sid)


def group_pids(pgid):
    """Live (non-zombie) processes of process group `pgid`."""
    return _live_pids_where(2, pgid)


def read_pid_file(path):
    """The pid in a --pid-file, or None when it is missing, empty or partial."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    return int(text.strip()) if text.strip().isdigit() else None


def kill_session(sid, *pids):
    """SIGKILL to a Server's whole process group (masters started by an upgrade share it)
    and to the given pids; then waits briefly for the session to empty."""
    for target in (lambda: os.killpg(sid, signal.SIGKILL),
                   *[(lambda p=p: os.kill(p, signal.SIGKILL)) for p in pids if p]):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + 5
    while session_pids(sid) and time.monotonic() < deadline:
        for p in session_pids(sid):
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.02)


# --- reading a raw socket up to a marker ---

def recv_until(sock, marker, closed_message):
    """What `sock` delivers until it holds `marker` (each read bounded by the socket's
    timeout); fails the test with `closed_message` if the peer closes first."""
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(closed_message)
        data += chunk
    return data
