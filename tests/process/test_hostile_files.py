"""Files the master writes where someone else could have planted something (issue 15
defect 9): the pid file's temporary is never opened through a planted symlink or FIFO,
also in a USR2 upgrade's new master; the pid file is always a regular file; a FIFO in
place of the pid file does not block the master's exit; --access-log never follows a
symlink unless --access-log-follow-symlinks says so, and never opens a FIFO."""
import os
import shutil
import signal
import stat
import subprocess
import tempfile
import time
import unittest

import rftest


def start_exits(args, timeout=8.0):
    """Runs ringfork with `args` expecting it to refuse to start; (rc, output)."""
    p = subprocess.Popen([rftest.BIN, "--listen", "127.0.0.1:0", "--workers", "1", "--demo", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        rftest.kill_session(p.pid)
        out, _ = p.communicate()
        raise AssertionError(f"ringfork {args} still running after {timeout}s (blocked?):\n{out}")
    return p.returncode, out


def read(path):
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def http_ok(port):
    with rftest.Conn(port, timeout=5) as c:
        c.send(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        return c.response()[0] == 200


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rf-hostile-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.pid_file = self.path("rf.pid")

    def path(self, name):
        return os.path.join(self.dir, name)

    def server(self, *args, timeout=10.0):
        s = rftest.Server("--demo", "--pid-file", self.pid_file, *args, workers=1, ready=False)
        self.addCleanup(s.stop)
        self.addCleanup(lambda: rftest.kill_session(s.pid, rftest.read_pid_file(self.pid_file)))
        s.wait_log(r"ready: \d+ workers serving", timeout)
        s.port = int(s.wait_log(r"listening on 127\.0\.0\.1:(\d+)", 2).group(1))
        return s

    def secret(self):
        """A root-only file a planted symlink points at; returns its path."""
        target = self.path("secret")
        with open(target, "w") as f:
            f.write("do not touch\n")
        os.chmod(target, 0o600)
        return target

    def assert_pid_file(self, pid):
        st = os.lstat(self.pid_file)
        self.assertTrue(stat.S_ISREG(st.st_mode), f"pid file is not a regular file: {oct(st.st_mode)}")
        self.assertEqual(rftest.read_pid_file(self.pid_file), pid)


class PidFile(Base):
    def test_planted_symlink_at_the_temporary_name(self):
        target = self.secret()
        os.symlink(target, self.pid_file + ".tmp")
        s = self.server()
        self.assert_pid_file(s.pid)
        with open(target) as f:
            self.assertEqual(f.read(), "do not touch\n")
        self.assertEqual(os.readlink(self.pid_file + ".tmp"), target)  # left alone

    def test_planted_fifo_at_the_temporary_name(self):
        os.mkfifo(self.pid_file + ".tmp")
        s = self.server()  # ready, not blocked in open()
        self.assertTrue(http_ok(s.port))
        self.assert_pid_file(s.pid)
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.pid_file + ".tmp").st_mode))

    def test_planted_symlink_in_place_of_the_pid_file(self):
        target = self.secret()
        os.symlink(target, self.pid_file)
        s = self.server()
        self.assert_pid_file(s.pid)  # the link was replaced, not written through
        with open(target) as f:
            self.assertEqual(f.read(), "do not touch\n")

    def test_upgrade_with_a_fifo_planted_at_the_temporary_name(self):
        s = self.server()
        self.assert_pid_file(s.pid)
        os.mkfifo(self.pid_file + ".tmp")
        s.signal(signal.SIGUSR2)
        new = rftest.wait_until(lambda: (lambda p: p if p and p != s.pid else None)(
            rftest.read_pid_file(self.pid_file)), 15, what="the new master's pid in the pid file")
        rftest.wait_until(lambda: not rftest.alive(s.pid), 15, what="the old master to exit")
        self.assert_pid_file(new)
        self.assertTrue(http_ok(s.port))

    def test_fifo_in_place_of_the_pid_file_does_not_block_the_exit(self):
        s = self.server()
        os.unlink(self.pid_file)
        os.mkfifo(self.pid_file)
        self.addCleanup(os.unlink, self.pid_file)  # before the cleanup that reads the pid file
        s.signal(signal.SIGTERM)
        self.assertEqual(s.wait_exit(10), 0)
        self.assertTrue(stat.S_ISFIFO(os.lstat(self.pid_file).st_mode))  # not ours: left alone


class AccessLog(Base):
    def test_symlink_is_refused(self):
        real = self.path("real.log")
        link = self.path("access.log")
        os.symlink(real, link)
        rc, out = start_exits(["--access-log", link])
        self.assertEqual(rc, 1, out)
        self.assertIn(f"open --access-log {link}: is a symbolic link (pass --access-log-follow-symlinks to "
                      f"follow it)", out)
        self.assertFalse(os.path.exists(real))

    def test_symlink_to_a_root_only_file_is_not_written(self):
        target = self.secret()
        link = self.path("access.log")
        os.symlink(target, link)
        rc, out = start_exits(["--access-log", link])
        self.assertEqual(rc, 1, out)
        with open(target) as f:
            self.assertEqual(f.read(), "do not touch\n")

    def test_symlink_followed_when_asked(self):
        real = self.path("real.log")
        link = self.path("access.log")
        os.symlink(real, link)
        s = self.server("--access-log", link, "--access-log-follow-symlinks")
        self.assertTrue(http_ok(s.port))
        rftest.wait_until(lambda: "GET /plaintext" in read(real), 5,
                          what="a line in the link's target")

    def test_fifo_is_refused_without_blocking(self):
        fifo = self.path("access.log")
        os.mkfifo(fifo)
        rc, out = start_exits(["--access-log", fifo])
        self.assertEqual(rc, 1, out)
        self.assertIn(f"open --access-log {fifo}: ", out)

    def test_hard_linked_file_is_refused(self):
        target = self.secret()
        link = self.path("access.log")
        os.link(target, link)
        rc, out = start_exits(["--access-log", link])
        self.assertEqual(rc, 1, out)
        self.assertIn(f"open --access-log {link}: has 2 hard links; refusing to append to it", out)
        with open(target) as f:
            self.assertEqual(f.read(), "do not touch\n")

    def test_usr1_reopen_refuses_a_planted_symlink(self):
        log = self.path("access.log")
        target = self.secret()
        s = self.server("--access-log", log)
        self.assertTrue(http_ok(s.port))
        os.rename(log, log + ".1")
        os.symlink(target, log)
        s.signal(signal.SIGUSR1)
        s.wait_log(rf"open --access-log {log}: is a symbolic link .*\(workers keep the old file\)")
        self.assertTrue(http_ok(s.port))
        rftest.wait_until(lambda: read(log + ".1").count("GET /plaintext") == 2, 5,
                          what="both lines in the old file")
        with open(target) as f:
            self.assertEqual(f.read(), "do not touch\n")


if __name__ == "__main__":
    rftest.main()
