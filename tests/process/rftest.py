"""Shared harness for process tests: start build/ringfork on port 0, wait on conditions
with deadlines (never fixed sleeps), talk raw HTTP over loopback, stop and clean up."""
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

BIN = os.environ.get("RINGFORK_BIN") or os.path.join(os.path.dirname(__file__), "../../build/ringfork")


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


class Server:
    """One ringfork master started with the given arguments on 127.0.0.1:0."""

    def __init__(self, *args, workers=2, listen="127.0.0.1:0", ready=True, timeout=15.0):
        cmd = [BIN]
        if listen:
            cmd += ["--listen", listen]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        cmd += list(args)
        self.cmd = cmd
        self.lines = []
        self._lock = threading.Lock()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
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
        return [p for p in children(self.pid) if alive(p)]

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


class Conn:
    """A client connection that keeps unread bytes between responses."""

    def __init__(self, port, timeout=5.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.timeout = timeout

    def send(self, data):
        self.sock.sendall(data)

    def response(self, head=False):
        """(status, headers, body) of the next response; HEAD responses have no body."""
        deadline = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            self._more(deadline)
        head_bytes, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head_bytes.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            headers.setdefault(k.strip().lower(), v.strip())
        length = 0 if head or status in (100, 101, 204, 304) else int(headers.get("content-length", "0"))
        while len(self.buf) < length:
            self._more(deadline)
        body, self.buf = self.buf[:length], self.buf[length:]
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
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for a response (have {self.buf[:200]!r})")
        self.sock.settimeout(left)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed early (have {self.buf[:200]!r})")
        self.buf += chunk

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main():
    unittest.main(verbosity=2)
