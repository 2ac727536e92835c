"""Privileges (issue 15 defect 13): started as root, ringfork's children (workers, task
runners and the jobs they start) run as --user, or nobody without it, with their
supplementary groups, no capability and no way to regain one; the master keeps root for
its own files (pid file, control socket) and opens the access log for the workers, also
after USR1. Not root, --user can only name ringfork's own user."""
import grp
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import unittest

import rftest

ID_TASK = ("--task", 'id=sh -c "id -u; id -g; id -G; grep -e ^CapEff -e ^CapPrm -e ^NoNewPrivs /proc/self/status"')


def status(pid):
    """/proc/PID/status as a dict of its fields (text after the colon, stripped)."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def http(port, method, path, body=b""):
    with rftest.Conn(port, timeout=10) as c:
        c.send(f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
               f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        return c.response()


def user_with_supplementary_groups():
    """A user of this system that belongs to a group other than its primary one, or None."""
    for g in grp.getgrall():
        for member in g.gr_mem:
            try:
                pw = pwd.getpwnam(member)
            except KeyError:
                continue
            if pw.pw_uid != 0 and pw.pw_gid != g.gr_gid:
                return pw
    return None


def children_of(s, comm):
    return [p for p in rftest.children(s.pid) if rftest.alive(p) and rftest.comm(p) == comm]


@unittest.skipUnless(os.geteuid() == 0, "needs root: only root can switch the children's user")
class RootDropsPrivileges(unittest.TestCase):
    def setUp(self):
        # Root's own directory (0700): only the master can open the files in it.
        self.private = tempfile.mkdtemp(prefix="rf-priv-")
        self.addCleanup(shutil.rmtree, self.private, True)
        # The spool's parent must be searchable by the children's user.
        self.open_dir = tempfile.mkdtemp(prefix="rf-priv-spool-")
        os.chmod(self.open_dir, 0o711)
        self.addCleanup(shutil.rmtree, self.open_dir, True)

    def start(self, *args, **kw):
        s = rftest.Server("--task-spool", os.path.join(self.open_dir, "spool"), "--task-workers", "2",
                          "--access-log", os.path.join(self.private, "access.log"),
                          "--pid-file", os.path.join(self.private, "rf.pid"),
                          "--control", os.path.join(self.private, "rf.sock"), *ID_TASK, *args, **kw)
        self.addCleanup(rftest.kill_session, s.pid)
        self.addCleanup(s.stop)
        rftest.wait_until(lambda: len(children_of(s, "rf-task")) == 2, 10, what="2 task runners")
        return s

    def assert_children_run_as(self, s, pw, gid=None, groups=None):
        gid = pw.pw_gid if gid is None else gid
        groups = sorted(set(os.getgrouplist(pw.pw_name, gid))) if groups is None else groups
        kids = children_of(s, "rf-worker") + children_of(s, "rf-task")
        self.assertEqual(len(kids), 4, s.log())
        for pid in kids:
            st = status(pid)
            who = f"{rftest.comm(pid)} {pid}"
            self.assertEqual(st["Uid"].split(), [str(pw.pw_uid)] * 4, who)
            self.assertEqual(st["Gid"].split(), [str(gid)] * 4, who)
            self.assertEqual(sorted(int(g) for g in st["Groups"].split()), groups, who)
            for caps in ("CapEff", "CapPrm", "CapAmb", "CapInh"):
                self.assertEqual(int(st[caps], 16), 0, f"{who} {caps}")
            self.assertEqual(st["NoNewPrivs"], "1", who)
        # A job's own process: the task prints what it runs as.
        code, _, body = http(s.port, "POST", "/tasks/id")
        self.assertEqual(code, 200, body)
        lines = body.decode().splitlines()
        self.assertEqual(lines[0], str(pw.pw_uid), body)
        self.assertEqual(lines[1], str(gid), body)
        self.assertEqual(sorted(int(g) for g in lines[2].split()), groups, body)
        fields = dict(line.split(":\t") for line in lines[3:])
        self.assertEqual(int(fields["CapEff"], 16), 0, body)
        self.assertEqual(int(fields["CapPrm"], 16), 0, body)
        self.assertEqual(fields["NoNewPrivs"], "1", body)
        # The master stays root and keeps its files root's.
        self.assertEqual(status(s.pid)["Uid"].split()[0], "0")
        for name in ("rf.pid", "rf.sock"):
            st = os.lstat(os.path.join(self.private, name))
            self.assertEqual(st.st_uid, 0, name)
        self.assertEqual(stat.S_IMODE(os.lstat(os.path.join(self.private, "rf.sock")).st_mode), 0o600)

    def test_root_without_user_runs_children_as_nobody(self):
        s = self.start(keep_identity=False)
        line = s.wait_log(r"started as root without --user: children run as (\S+)")
        self.assertTrue(line.group(1).startswith("nobody:"), line.group(0))
        self.assert_children_run_as(s, pwd.getpwnam("nobody"))

    def test_user_nobody(self):
        s = self.start("--user", "nobody")
        s.wait_log(r"children run as nobody:\S+ \(uid \d+, gid \d+, groups [\d,]+\), without capabilities")
        self.assert_children_run_as(s, pwd.getpwnam("nobody"))

    def test_user_and_group(self):
        s = self.start("--user", "nobody:root")
        self.assert_children_run_as(s, pwd.getpwnam("nobody"), gid=0)

    def test_numeric_ids_without_a_passwd_entry(self):
        uid = 54321
        while True:
            try:
                pwd.getpwuid(uid)
                uid += 1
            except KeyError:
                break
        s = self.start("--user", f"{uid}:{uid}")
        fake = pwd.struct_passwd((str(uid), "x", uid, uid, "", "/", "/bin/sh"))
        self.assert_children_run_as(s, fake, groups=[uid])

    def test_supplementary_groups(self):
        pw = user_with_supplementary_groups()
        if pw is None:
            self.skipTest("no user with a supplementary group on this system")
        s = self.start("--user", pw.pw_name)
        self.assert_children_run_as(s, pw)

    def test_access_log_opened_by_the_master_and_reopened_on_usr1(self):
        log = os.path.join(self.private, "access.log")
        s = self.start("--user", "nobody", workers=2)
        for _ in range(4):
            self.assertEqual(http(s.port, "GET", "/plaintext")[0], 200)

        def lines(path, marker):
            try:
                with open(path) as f:
                    return [l for l in f if marker in l]
            except FileNotFoundError:
                return []
        rftest.wait_until(lambda: len(lines(log, "GET /plaintext")) == 4, 5, what="4 lines in the access log")
        # logrotate: move the file away, USR1, and the workers write to the new one.
        os.rename(log, log + ".1")
        s.signal(signal.SIGUSR1)
        s.wait_log("reopening logs")
        rftest.wait_until(lambda: os.path.exists(log), 5, what="the master to create the new log")
        for _ in range(4):
            self.assertEqual(http(s.port, "GET", "/json")[0], 200)
        rftest.wait_until(lambda: len(lines(log, "GET /json")) == 4, 5, what="4 lines in the reopened log")
        self.assertEqual(lines(log + ".1", "GET /json"), [])
        self.assertEqual(len(lines(log + ".1", "GET /plaintext")), 4)
        self.assertEqual(os.stat(log).st_uid, 0)
        # A worker started after the reopen (a refill) writes to the new file too.
        for pid in children_of(s, "rf-worker"):
            os.kill(pid, signal.SIGKILL)
        rftest.wait_until(lambda: s.count_log(r"refilling slot") >= 2 and len(children_of(s, "rf-worker")) == 2,
                          10, what="both workers refilled")
        s.wait_log(r"ready: 2 workers serving")
        rftest.wait_until(lambda: http(s.port, "GET", "/json?refilled")[0] == 200, 5, what="a refilled worker")
        rftest.wait_until(lambda: lines(log, "/json?refilled"), 5, what="the refilled worker's line")
        self.assertEqual(lines(log + ".1", "refilled"), [])
        self.assertNotIn("Permission denied", s.log())

    def test_user_must_exist(self):
        r = subprocess.run([rftest.BIN, "--user", "no-such-user-rf", "-t"], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "ringfork: --user: 'no-such-user-rf' is not a user on this system\n")


def become_nobody():
    pw = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)


@unittest.skipUnless(os.geteuid() == 0, "needs root to start ringfork as another user")
class NotRoot(unittest.TestCase):
    """ringfork started as an ordinary user (nobody here)."""

    def test_naming_another_user_is_refused(self):
        r = subprocess.run([rftest.BIN, "--user", "root", "-t"], capture_output=True, text=True, timeout=10,
                           preexec_fn=become_nobody)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr, r"^ringfork: --user: only root can run the children as another user or group; "
                                   r"ringfork runs as uid \d+ gid \d+, and 'root' is uid 0 gid 0\n$")

    def test_naming_yourself_is_accepted(self):
        spool = tempfile.mkdtemp(prefix="rf-priv-self-")
        self.addCleanup(shutil.rmtree, spool, True)
        pw = pwd.getpwnam("nobody")
        os.chown(spool, pw.pw_uid, pw.pw_gid)
        p = subprocess.Popen([rftest.BIN, "--listen", "127.0.0.1:0", "--workers", "1", "--user", "nobody",
                              "--task-spool", os.path.join(spool, "s"), "--demo"],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                             preexec_fn=become_nobody)
        self.addCleanup(rftest.kill_session, p.pid)
        out = []
        try:
            for line in p.stdout:
                out.append(line)
                if "ready: 1 workers serving" in line:
                    break
        finally:
            p.send_signal(signal.SIGTERM)
            rest, _ = p.communicate(timeout=15)
            out.append(rest)
        text = "".join(out)
        self.assertEqual(p.returncode, 0, text)
        self.assertRegex(text, r"children run as nobody:\S+ \(uid \d+, gid \d+, groups [^)]*\), without "
                               r"capabilities, like the master")
        self.assertIn("ready: 1 workers serving", text)


if __name__ == "__main__":
    rftest.main()
