"""Helpers the task pool's process tests share: one-shot requests, a request on its own
thread, and finding task runners and job processes under /proc."""
import os
import re
import threading
import time

import rftest

JOB_PATH = re.compile(r"^/tasks/jobs/([0-9a-f]{32})$")


def http(port, method, path, body=b"", timeout=10.0):
    """One request on a new connection (Connection: close): (status, headers, body)."""
    with rftest.Conn(port, timeout=timeout) as c:
        c.send(f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
               f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        return c.response(head=method == "HEAD")


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def procs_running(argv):
    """Live processes anywhere on the machine whose command line is exactly `argv`."""
    return [int(d) for d in os.listdir("/proc") if d.isdigit() and cmdline(d) == argv and rftest.alive(int(d))]


def runners(s):
    """The live task-runner processes (comm rf-task) that are children of the master."""
    return [p for p in rftest.children(s.pid) if rftest.alive(p) and rftest.comm(p) == "rf-task"]


class Call(threading.Thread):
    """A request on its own thread; .result is (status, headers, body, seconds) or .error."""

    def __init__(self, port, method, path, body=b"", timeout=30.0):
        super().__init__(daemon=True)
        self.args = (port, method, path, body, timeout)
        self.result = None
        self.error = None
        self.done_at = None

    def run(self):
        t0 = time.monotonic()
        try:
            status, headers, body = http(*self.args)
            self.done_at = time.monotonic()
            self.result = (status, headers, body, self.done_at - t0)
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.done_at = time.monotonic()
            self.error = e

    def outcome(self, timeout):
        self.join(timeout)
        if self.is_alive():
            raise AssertionError(f"{self.args[1]} {self.args[2]} not answered within {timeout}s")
        if self.error:
            raise AssertionError(f"{self.args[1]} {self.args[2]} failed: {self.error!r}")
        return self.result
