"""Service-manager integration: sd_notify messages (READY, RELOADING, STOPPING) on
$NOTIFY_SOCKET, and socket activation through LISTEN_FDS (systemd-socket-activate)."""
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import rftest


class NotifySink:
    """A datagram socket bound where $NOTIFY_SOCKET points; every message it got so far."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.2)
        self.got = []

    def drain(self):
        try:
            while True:
                self.got.append(self.sock.recv(4096).decode())
        except (socket.timeout, BlockingIOError):
            pass
        return self.got


class Notify(unittest.TestCase):
    def test_ready_reloading_stopping(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "notify.sock")
            sink = NotifySink(path)
            try:
                with rftest.Server("--demo", workers=2, env={"NOTIFY_SOCKET": path}) as s:
                    rftest.wait_until(lambda: any("READY=1" in m for m in sink.drain()), 10, what="READY=1")
                    self.assertTrue(any(f"MAINPID={s.pid}" in m for m in sink.got))
                    s.signal(signal.SIGHUP)
                    rftest.wait_until(lambda: any("RELOADING=1" in m for m in sink.drain()), 10, what="RELOADING=1")
                    s.wait_log(r"reload complete", 15)
                    rftest.wait_until(lambda: sum("READY=1" in m for m in sink.drain()) >= 2, 10, what="READY after reload")
                    s.signal(signal.SIGTERM)
                    rftest.wait_until(lambda: any("STOPPING=1" in m for m in sink.drain()), 10, what="STOPPING=1")
                    self.assertEqual(s.wait_exit(15), 0)
            finally:
                sink.sock.close()

    def test_abstract_address(self):
        # "@name": the abstract socket "\0name", no file anywhere.
        name = f"rf-notify-test-{os.getpid()}"
        sink = NotifySink("\0" + name)
        try:
            with rftest.Server("--demo", workers=1, env={"NOTIFY_SOCKET": "@" + name}) as s:
                rftest.wait_until(lambda: any("READY=1" in m for m in sink.drain()), 10, what="READY=1")
                self.assertTrue(any(f"MAINPID={s.pid}" in m for m in sink.got))
        finally:
            sink.sock.close()


class SocketActivation(unittest.TestCase):
    def test_listen_fds_are_served(self):
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        proc = subprocess.Popen([rftest.program("systemd-socket-activate"), "-l", f"127.0.0.1:{port}", rftest.BIN, "--workers", "2",
                                 "--demo"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            def answered():
                try:
                    with rftest.Conn(port, timeout=2) as c:
                        c.send(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n")
                        return c.response()[2] == b"Hello, World!"
                except (OSError, AssertionError):
                    return False
            # The first connection starts ringfork (activation on demand); then it serves.
            rftest.wait_until(answered, 15, interval=0.1, what="an answer on the activated socket")
            for _ in range(20):
                self.assertTrue(answered())
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                out = proc.communicate(timeout=15)[0]
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out = proc.communicate()[0]
        self.assertIn("socket activation: 1 listening sockets", out)


if __name__ == "__main__":
    rftest.main()
