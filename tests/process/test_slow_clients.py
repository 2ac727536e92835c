"""Slow clients (slowhttptest): slowloris and slow read with 1,000 connections against
2 workers, while a normal client is served throughout; afterwards the workers' open
descriptors return to their baseline. Loopback only; every phase is bounded in time."""
import os
import resource
import subprocess
import threading
import time
import unittest

import rftest


def open_fds(pids):
    total = 0
    for p in pids:
        try:
            total += len(os.listdir(f"/proc/{p}/fd"))
        except OSError:
            pass
    return total


class Prober(threading.Thread):
    """A normal client: one keep-alive-free GET every 50 ms, each with a 2 s budget."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.ok = 0
        self.failures = []
        self.worst = 0.0

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                with rftest.Conn(self.port, timeout=2.0) as c:
                    c.send(b"GET /plaintext HTTP/1.1\r\nHost: p\r\nConnection: close\r\n\r\n")
                    status, _, body = c.response()
                    if status == 200 and body == b"Hello, World!":
                        self.ok += 1
                    else:
                        self.failures.append(f"status {status}")
            except (OSError, AssertionError) as e:
                self.failures.append(repr(e))
            self.worst = max(self.worst, time.monotonic() - t0)
            self.stop.wait(0.05)


class SlowClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        if hard < 3000:
            raise unittest.SkipTest(f"RLIMIT_NOFILE hard limit {hard} is too low for 1,000 connections")

    def attack(self, mode_args, server_args):
        with rftest.Server("--demo", *server_args, workers=2) as s:
            workers = s.workers()
            self.assertEqual(len(workers), 2)
            baseline = open_fds(workers)
            prober = Prober(s.port)
            prober.start()
            cmd = [rftest.program("slowhttptest"), *mode_args, "-c", "1000", "-r", "1000", "-l", "6", "-p", "3",
                   "-u", f"http://127.0.0.1:{s.port}/plaintext"]
            peak = 0
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            deadline = time.monotonic() + 40
            while proc.poll() is None and time.monotonic() < deadline:
                peak = max(peak, open_fds(workers) - baseline)
                time.sleep(0.2)
            if proc.poll() is None:
                proc.kill()
            out = proc.communicate(timeout=10)[0]
            prober.stop.set()
            prober.join(5)
            print(f"\n{' '.join(mode_args)}: peak {peak} extra fds, prober ok={prober.ok} "
                  f"failures={len(prober.failures)} worst={prober.worst * 1000:.0f} ms")
            self.assertGreater(peak, 200, f"the attack never reached the server:\n{out[-2000:]}")
            self.assertEqual(prober.failures, [], "a normal client was not served during the attack")
            self.assertGreater(prober.ok, 20)
            # Every attacking connection is gone once the attack ends: no descriptor leaks.
            rftest.wait_until(lambda: open_fds(workers) <= baseline, timeout=15,
                              what=f"worker fds back to baseline {baseline} (now {open_fds(workers)})")
            self.assertEqual(sorted(s.workers()), sorted(workers), "a worker died during the attack")

    def test_slowloris(self):
        # Header lines trickle in every second; the 2 s whole-head deadline ends each one.
        self.attack(["-H", "-i", "1"], ["--header-timeout", "2"])

    def test_slow_read(self):
        # Pipelined requests with a tiny receive window, read 4 bytes a second.
        self.attack(["-X", "-k", "10", "-n", "1", "-w", "1", "-y", "8", "-z", "4"], ["--send-timeout", "3"])


if __name__ == "__main__":
    rftest.main()
