"""The live views: the admin dashboard in headless Chromium (loads, no script errors, one
row per worker) and `ringfork top` in a pseudo-terminal (shows the workers, quits on q)."""
import fcntl
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import termios
import time
import unittest

import rftest

ADMIN = r"admin: http://127\.0\.0\.1:(\d+)/"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0"]


class Views(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rf-views-")
        self.control = os.path.join(self.dir, "ctl.sock")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_dashboard_in_headless_chromium(self):
        chromium = rftest.program("chromium")
        with rftest.Server("--demo", "--admin", "127.0.0.1:0", workers=2) as s:
            port = int(s.wait_log(ADMIN).group(1))
            pids = sorted(s.workers())
            self.assertEqual(len(pids), 2)
            profile = os.path.join(self.dir, "profile")
            # Virtual time runs the page's one-second refresh a few times without real waiting.
            r = subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                                "--virtual-time-budget=3500", "--dump-dom", f"http://127.0.0.1:{port}/"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr[-2000:])
            dom = r.stdout
            console_errors = [line for line in r.stderr.splitlines()
                              if "CONSOLE" in line and ("Uncaught" in line or ":ERROR:" in line)]
            self.assertEqual(console_errors, [])
            body = re.search(r"<body([^>]*)>", dom)
            self.assertIsNotNone(body, dom[:500])
            self.assertNotIn("data-error", body.group(1), body.group(1))
            self.assertIn('data-ok="1"', body.group(1))
            refreshes = int(re.search(r'data-refreshes="(\d+)"', body.group(1)).group(1))
            self.assertGreaterEqual(refreshes, 2)  # the second refresh computes rates
            rows = re.findall(r'<tr class="worker" data-slot="(\d+)" data-pid="(\d+)">', dom)
            self.assertEqual(sorted(int(pid) for _, pid in rows), pids)
            self.assertEqual(sorted(slot for slot, _ in rows), ["0", "1"])
            self.assertEqual(dom.count("<canvas"), 3)

    def test_top_in_a_pty(self):
        with rftest.Server("--demo", "--control", self.control, workers=2) as s:
            pids = s.workers()
            self.assertEqual(len(pids), 2)
            pid, fd = pty.fork()
            if pid == 0:
                os.execv(rftest.BIN, [rftest.BIN, "top", "--control", self.control, "--interval", "0.2"])
            try:
                fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
                out = b""
                deadline = time.monotonic() + 10

                def read_some(until):
                    nonlocal out
                    while time.monotonic() < until:
                        ready, _, _ = select.select([fd], [], [], 0.1)
                        if ready:
                            try:
                                chunk = os.read(fd, 65536)
                            except OSError:
                                return
                            if not chunk:
                                return
                            out += chunk
                        text = out.decode(errors="replace")
                        if all(str(p) in text for p in pids) and text.count("\x1b[H") >= 3:
                            return
                read_some(deadline)
                text = out.decode(errors="replace")
                self.assertIn("\x1b[?1049h", text)  # alternate screen
                self.assertGreaterEqual(text.count("\x1b[H"), 3, text[-1500:])  # redrawn in place
                for p in pids:
                    self.assertIn(str(p), text)
                self.assertIn("SLOT", text)
                self.assertIn("ready", text)
                os.write(fd, b"q")
                end = time.monotonic() + 5
                status = None
                while time.monotonic() < end and status is None:
                    done, st = os.waitpid(pid, os.WNOHANG)
                    if done:
                        status = st
                    elif select.select([fd], [], [], 0.05)[0]:
                        try:
                            out += os.read(fd, 65536)
                        except OSError:
                            pass
                # What top wrote just before exiting may still wait in the pty: read it all.
                drain_end = time.monotonic() + 2
                while time.monotonic() < drain_end and select.select([fd], [], [], 0.1)[0]:
                    try:
                        chunk = os.read(fd, 65536)
                    except OSError:
                        break
                    if not chunk:
                        break
                    out += chunk
                self.assertIsNotNone(status, "top did not quit on q")
                self.assertEqual(os.waitstatus_to_exitcode(status), 0)
                self.assertIn("\x1b[?1049l", out.decode(errors="replace"))  # terminal restored
            finally:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
                os.close(fd)


if __name__ == "__main__":
    rftest.main()
