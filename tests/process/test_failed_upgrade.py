"""A failed binary upgrade cannot wedge the master (issue 15 defect 12): a new master that
never gets ready and ignores SIGTERM is killed (SIGKILL) after a bound, reaped, and the
upgrade state cleared, so it no longer holds the listeners and the next upgrade works.

The upgrade runs the binary at the master's path, so the test starts a copy of ringfork
from its own directory and replaces that file: first with a script that ignores TERM,
then with ringfork again."""
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import unittest
import unittest.mock

import rftest

STUCK = """#!/bin/sh
# A new master that never reports ready and ignores SIGTERM, holding every descriptor it
# inherited (the listeners among them).
echo "stuck new master $$"
trap '' TERM
exec sleep 1000
"""


def replace_file(path, content=None, copy_of=None):
    """Atomically puts new content at `path` (a running binary cannot be written in place)."""
    tmp = path + ".new"
    if copy_of:
        shutil.copy(copy_of, tmp)
    else:
        with open(tmp, "w") as f:
            f.write(content)
    os.chmod(tmp, 0o755)
    os.rename(tmp, path)


def holders(port):
    """Pids of processes holding a TCP socket listening on 127.0.0.1:port."""
    inodes = set()
    for table in ("/proc/net/tcp",):
        with open(table) as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    pids = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{d}/fd"):
                target = os.readlink(f"/proc/{d}/fd/{fd}")
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    pids.add(int(d))
        except OSError:
            pass
    return pids


class FailedUpgrade(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rf-upgrade-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.bin = os.path.join(self.dir, "ringfork")
        shutil.copy(rftest.BIN, self.bin)
        self.control = os.path.join(self.dir, "ctl.sock")
        self.pid_file = os.path.join(self.dir, "rf.pid")

    def ctl(self, *args):
        return subprocess.run([rftest.BIN, "ctl", "--control", self.control, *args], capture_output=True, text=True,
                              timeout=15)

    def test_stuck_new_master_is_killed_and_the_next_upgrade_works(self):
        with unittest.mock.patch.object(rftest, "BIN", self.bin):
            s = rftest.Server("--demo", "--control", self.control, "--pid-file", self.pid_file,
                              "--upgrade-timeout", "2", workers=2)
        self.addCleanup(s.stop)
        self.addCleanup(lambda: rftest.kill_session(s.pid, rftest.read_pid_file(self.pid_file)))
        replace_file(self.bin, content=STUCK)
        self.assertEqual(self.ctl("upgrade").returncode, 0)
        stuck = int(s.wait_log(r"stuck new master (\d+)", 10).group(1))
        self.assertIn(stuck, holders(s.port))  # it inherited the listeners
        s.wait_log(rf"upgrade failed: new master {stuck} not ready in time", 10)
        s.wait_log(rf"upgrade: new master {stuck} ignored SIGTERM .*SIGKILL", 15)
        s.wait_log(rf"upgrade failed: new master {stuck} ended with signal 9", 10)
        rftest.wait_until(lambda: not os.path.exists(f"/proc/{stuck}"), 5, what="the stuck master reaped")
        self.assertNotIn(stuck, holders(s.port))
        self.assertEqual(rftest.read_pid_file(self.pid_file), s.pid)
        # The next upgrade runs the real binary again and completes.
        replace_file(self.bin, copy_of=rftest.BIN)
        r = self.ctl("upgrade")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        new = rftest.wait_until(lambda: (lambda p: p if p and p != s.pid else None)(
            rftest.read_pid_file(self.pid_file)), 15, what="the new master's pid")
        self.assertEqual(s.wait_exit(20), 0)
        rftest.wait_until(lambda: self.ctl("stats").returncode == 0, 10, what="the new master's control socket")
        self.assertEqual(holders(s.port) & {stuck, s.pid}, set())
        self.assertIn(new, holders(s.port))

    def test_stop_during_a_stuck_upgrade_takes_the_new_master_down_too(self):
        with unittest.mock.patch.object(rftest, "BIN", self.bin):
            s = rftest.Server("--demo", "--control", self.control, workers=1)
        self.addCleanup(s.stop)
        self.addCleanup(rftest.kill_session, s.pid)  # a stuck master left behind is in its session
        replace_file(self.bin, content=STUCK)
        s.signal(signal.SIGUSR2)
        stuck = int(s.wait_log(r"stuck new master (\d+)", 10).group(1))
        s.signal(signal.SIGTERM)
        self.assertEqual(s.wait_exit(20), 0)
        self.assertFalse(rftest.alive(stuck), "the stuck new master outlived the old one")
        self.assertEqual(holders(s.port), set())


if __name__ == "__main__":
    rftest.main()
