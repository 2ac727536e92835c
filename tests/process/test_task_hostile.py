"""The task pool under hostile conditions (issue 15, defects 2, 3, 7 and 10): a spool someone
else prepared, links planted in it, queued synchronous jobs and large async bodies, jobs
that try to outlive themselves, and jobs that fill a small spool."""
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import rftest
from taskutil import JOB_PATH, Call, http, procs_running, runners

SECRET = b"root-only secret 7d1f\n"
OTHER_UID = 4242  # neither root nor nobody: a local user who is not the server


def raw_exchange(port, method, path, timeout):
    """One request; returns every byte the server sent before closing (b"" = empty reply)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode())
        data, _ = rftest.recv_until_close(s, timeout)
        return data


def marker():
    """A `sleep` argument no other process on the machine uses: finds this test's escapees."""
    return f"{random.randint(3000, 3999)}.{random.randint(100000, 999999)}"


def job_files(spool):
    """Names in the spool that belong to jobs (everything but the tmp directory)."""
    return sorted(n for n in os.listdir(spool) if n != "tmp")


class HostileTest(unittest.TestCase):
    def tmpdir(self):
        d = tempfile.mkdtemp(prefix="rf-hostile-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def start(self, spool, *args, task_workers=1, workers=1, ready=True):
        s = rftest.Server("--task-spool", spool, "--task-workers", str(task_workers), *args, workers=workers,
                          ready=ready)
        self.addCleanup(rftest.kill_session, s.pid)
        self.addCleanup(s.stop)
        if ready:
            s.wait_log(r"task pool ready: \d+ runners", 5)
        return s

    def assert_refused(self, spool, why):
        """ringfork exits non-zero at start with a line naming the spool."""
        s = self.start(spool, "--task", "echo=cat", ready=False)
        code = s.wait_exit(10)
        self.assertNotEqual(code, 0, f"ringfork started with {why}:\n{s.log()}")
        s.wait_log(re.escape(spool), 5)  # the refusal names the spool (read to the end of the log)

    def secret_file(self):
        d = self.tmpdir()
        path = os.path.join(d, "secret")
        with open(path, "wb") as f:
            f.write(SECRET)
        os.chmod(path, 0o600)
        return path

    # --- defect 2: the spool trusts whatever directory is there -----------------------------

    def test_planted_spool_is_refused(self):
        base = self.tmpdir()
        secret = self.secret_file()
        job = "0123456789abcdef" * 2
        # World-writable, as another local user would pre-create it, with a forged job in it.
        spool = os.path.join(base, "open")
        os.mkdir(spool)
        os.chmod(spool, 0o777)
        os.symlink(secret, os.path.join(spool, job + ".out"))
        with open(os.path.join(spool, job + ".res"), "wb") as f:
            f.write(bytes(24))
        self.assert_refused(spool, "a mode 0777 spool")
        # Private mode but somebody else's.
        theirs = os.path.join(base, "theirs")
        os.mkdir(theirs, 0o700)
        os.chown(theirs, OTHER_UID, OTHER_UID)
        self.assert_refused(theirs, "a spool owned by another user")
        # A symlink to a directory that would otherwise pass.
        real = os.path.join(base, "real")
        os.mkdir(real, 0o700)
        link = os.path.join(base, "link")
        os.symlink(real, link)
        self.assert_refused(link, "a spool that is a symlink")
        # Not a directory at all.
        plain = os.path.join(base, "plain")
        open(plain, "w").close()
        self.assert_refused(plain, "a spool that is a file")

    def test_missing_spool_is_created_private(self):
        base = self.tmpdir()
        spool = os.path.join(base, "new")
        s = self.start(spool, "--task", "echo=cat")
        st = os.lstat(spool)
        self.assertEqual((st.st_mode & 0o7777, st.st_uid), (0o700, os.getuid()))
        self.assertEqual(http(s.port, "POST", "/tasks/echo", b"hi")[::2], (200, b"hi"))

    def test_output_symlink_to_a_root_only_file_is_not_followed(self):
        base = self.tmpdir()
        spool = os.path.join(base, "spool")
        secret = self.secret_file()
        s = self.start(spool, "--task", "hello=echo hello")
        status, headers, _ = http(s.port, "POST", "/tasks/hello?async=1")
        self.assertEqual(status, 202)
        location = headers["location"]
        job = JOB_PATH.match(location).group(1)
        out = os.path.join(spool, job + ".out")
        rftest.wait_until(lambda: http(s.port, "GET", location)[0] == 200, 10, interval=0.05,
                          what="the async job to end")
        os.unlink(out)
        os.symlink(secret, out)
        for path in (location, location + "/output", location + "/stderr"):
            status, _, body = http(s.port, "GET", path)
            self.assertNotIn(SECRET.strip(), body, f"GET {path} followed {out} -> {secret}")
        self.assertNotEqual(http(s.port, "GET", location + "/output")[0], 200, "a planted link is not output")

    def test_planted_tmp_link_is_never_entered(self):
        base = self.tmpdir()
        elsewhere = os.path.join(base, "elsewhere")
        victim = os.path.join(elsewhere, "victim")
        os.makedirs(victim)
        with open(os.path.join(victim, "keep"), "w") as f:
            f.write("keep")
        old = time.time() - 7200
        for p in (os.path.join(victim, "keep"), victim):
            os.utime(p, (old, old))
        spool = os.path.join(base, "spool")
        os.mkdir(spool, 0o700)
        os.symlink(elsewhere, os.path.join(spool, "tmp"))
        s = self.start(spool, "--task", "echo=cat", "--task-ttl", "1", ready=False)
        code = s.wait_exit(10)
        self.assertNotEqual(code, 0, f"ringfork started with tmp -> {elsewhere} in the spool:\n{s.log()}")
        s.wait_log(re.escape(spool + "/tmp"), 5)
        self.assertEqual(sorted(os.listdir(elsewhere)), ["victim"])
        self.assertEqual(os.listdir(victim), ["keep"])

    def test_tmp_swapped_for_a_link_after_start_is_never_entered(self):
        base = self.tmpdir()
        elsewhere = os.path.join(base, "elsewhere")
        os.makedirs(os.path.join(elsewhere, "victim"))
        old = time.time() - 7200
        os.utime(os.path.join(elsewhere, "victim"), (old, old))
        spool = os.path.join(base, "spool")
        s = self.start(spool, "--task", 'pwd=sh -c "pwd; echo $TMPDIR"', "--task-ttl", "1")
        os.rename(os.path.join(spool, "tmp"), os.path.join(spool, "tmp.moved"))
        os.symlink(elsewhere, os.path.join(spool, "tmp"))
        for _ in range(3):
            status, _, body = http(s.port, "POST", "/tasks/pwd")
            self.assertEqual(status, 200, body)
            self.assertNotIn(b"elsewhere", body)
        # A negative check: for 3 s (past the 1 s TTL of the jobs above, so sweeps ran), the
        # planted directory stays untouched.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            self.assertEqual(os.listdir(elsewhere), ["victim"])
            time.sleep(0.1)

    # --- defect 3: queued synchronous jobs, large async bodies ------------------------------

    def test_queued_sync_jobs_are_all_answered(self):
        spool = os.path.join(self.tmpdir(), "spool")
        s = self.start(spool, "--task", 'slow=sh -c "sleep 1.5; echo ok"', "--task-timeout", "2",
                       "--task-queue", "8")
        # Six 1.5 s jobs on one runner: the last ends 9 s after submission, well past the
        # task timeout, which counts from each job's start, not from its submission.
        calls = [Call(s.port, "POST", "/tasks/slow", timeout=30) for _ in range(6)]
        for c in calls:
            c.start()
        results = [c.outcome(40) for c in calls]
        self.assertEqual([(r[0], r[2]) for r in results], [(200, b"ok\n")] * 6, [r[:2] for r in results])

    def test_sync_job_queued_too_long_gets_503_with_a_body(self):
        spool = os.path.join(self.tmpdir(), "spool")
        s = self.start(spool, "--task", "slow=sleep 3", "--task-queue-timeout", "1")
        first = Call(s.port, "POST", "/tasks/slow")
        first.start()
        rftest.wait_until(lambda: any(rftest.children(r) for r in runners(s)), 3, what="the first job to run")
        t0 = time.monotonic()
        status, headers, body = http(s.port, "POST", "/tasks/slow", timeout=10)
        took = time.monotonic() - t0
        self.assertEqual(status, 503, (headers, body))
        self.assertTrue(body.strip(), "a 503 for a queued job must say why")
        self.assertEqual(headers.get("retry-after"), "1", headers)
        self.assertGreaterEqual(took, 0.9, "answered before the queue bound")
        self.assertEqual(first.outcome(10)[0], 200)

    def test_over_full_queue_every_client_gets_a_response(self):
        spool = os.path.join(self.tmpdir(), "spool")
        # 1.5 s jobs with a 2 s timeout on one runner: the admitted jobs run in five rounds,
        # far longer than the task timeout, which counts from each job's start.
        s = self.start(spool, "--task", 'slow=sh -c "sleep 1.5; echo ok"', "--task-timeout", "2",
                       "--task-queue", "4")
        replies = [None] * 8

        def one(i):
            replies[i] = raw_exchange(s.port, "POST", "/tasks/slow", 30)
        threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(40)
        statuses = []
        for r in replies:
            self.assertTrue(r, f"an empty reply among {[x[:12] for x in replies]}")
            statuses.append(int(r.split(b" ", 2)[1]))
            if statuses[-1] == 503:
                self.assertIn(b"\r\nRetry-After: 1\r\n", r)
                self.assertTrue(r.split(b"\r\n\r\n", 1)[1].strip(), r)
            else:
                self.assertTrue(r.endswith(b"\r\n\r\nok\n"), r)
        self.assertLessEqual(set(statuses), {200, 503}, statuses)
        self.assertGreaterEqual(statuses.count(200), 5, f"1 running + 4 queued should all run: {statuses}")

    def test_async_submit_with_a_large_body_is_answered_at_once(self):
        spool = os.path.join(self.tmpdir(), "spool")
        s = self.start(spool, "--task", "slow=sleep 3", "--task", "count=wc -c", "--max-body", "2m")
        busy = Call(s.port, "POST", "/tasks/slow")
        busy.start()
        rftest.wait_until(lambda: any(rftest.children(r) for r in runners(s)), 3, what="the runner to be busy")
        body = os.urandom(1 << 20)
        t0 = time.monotonic()
        status, headers, _ = http(s.port, "POST", "/tasks/count?async=1", body)
        took = time.monotonic() - t0
        self.assertEqual(status, 202)
        self.assertLess(took, 1.0, f"202 for a 1 MiB async body took {took:.2f} s while the runner was busy")
        location = headers["location"]
        rftest.wait_until(lambda: http(s.port, "GET", location)[0] == 200, 15, interval=0.1, what="the job")
        self.assertEqual(http(s.port, "GET", location + "/output")[2].strip(), str(1 << 20).encode())
        self.assertEqual(busy.outcome(10)[0], 200)

    # --- defect 7: no process outlives its job -------------------------------------------

    def test_setsid_escapee_dies_with_its_job(self):
        m = marker()
        spool = os.path.join(self.tmpdir(), "spool")
        s = self.start(spool, "--task", f'esc=sh -c "setsid sleep {m} & sleep 0.5; echo started"')
        self.addCleanup(lambda: [os.kill(p, signal.SIGKILL) for p in procs_running(["sleep", m])])
        self.assertEqual(http(s.port, "POST", "/tasks/esc")[::2], (200, b"started\n"))
        rftest.wait_until(lambda: not procs_running(["sleep", m]), 3,
                          what=f"the job's setsid'd sleep {m} to be gone after the job")
        # And when ringfork stops gracefully, nothing of any job is left either.
        self.assertEqual(http(s.port, "POST", "/tasks/esc")[0], 200)
        s.signal(signal.SIGTERM)
        self.assertEqual(s.wait_exit(10), 0, s.log())
        rftest.wait_until(lambda: not procs_running(["sleep", m]), 2, what=f"no sleep {m} after ringfork exited")

    def test_setsid_escapee_dies_at_the_timeout(self):
        m = marker()
        spool = os.path.join(self.tmpdir(), "spool")
        s = self.start(spool, "--task", f'esc=sh -c "setsid sleep {m} & sleep 1000"', "--task-timeout", "1")
        self.addCleanup(lambda: [os.kill(p, signal.SIGKILL) for p in procs_running(["sleep", m])])
        status, headers, _ = http(s.port, "POST", "/tasks/esc")
        self.assertEqual(status, 504, headers)
        rftest.wait_until(lambda: not procs_running(["sleep", m]), 3, what=f"sleep {m} gone after the timeout")

    def test_escapees_of_a_killed_runner_are_killed_by_the_master(self):
        m = marker()
        spool = os.path.join(self.tmpdir(), "spool")
        s = self.start(spool, "--task", f'esc=sh -c "setsid sleep {m} & sleep 1000"')
        self.addCleanup(lambda: [os.kill(p, signal.SIGKILL) for p in procs_running(["sleep", m])])
        self.assertEqual(http(s.port, "POST", "/tasks/esc?async=1")[0], 202)
        rftest.wait_until(lambda: procs_running(["sleep", m]), 3, what=f"sleep {m} to start")
        victim = runners(s)[0]
        os.kill(victim, signal.SIGKILL)
        rftest.wait_until(lambda: not procs_running(["sleep", m]), 3,
                          what=f"sleep {m}, escaped from killed runner {victim}, to be gone")
        self.assertIsNone(s.proc.poll(), "the master must keep running")
        rftest.wait_until(lambda: len(runners(s)) == 1 and victim not in runners(s), 5, what="a new runner")

    # --- defect 10: a job's output has no size limit ---------------------------------------

    def test_job_filling_a_small_spool_ends_failed_and_readable(self):
        if os.getuid() != 0:
            self.skipTest("mounting a tmpfs needs root")
        base = self.tmpdir()
        mnt = os.path.join(base, "small")
        os.mkdir(mnt)
        r = subprocess.run([rftest.program("mount"), "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        self.addCleanup(subprocess.run, [rftest.program("umount"), "-l", mnt], capture_output=True)
        s = self.start(mnt, "--task", "big=head -c 5000000 /dev/zero", "--task", "echo=cat")
        status, headers, _ = http(s.port, "POST", "/tasks/big?async=1")
        self.assertEqual(status, 202)
        location = headers["location"]

        def ended():
            st, _, b = http(s.port, "GET", location)
            self.assertIn(st, (200, 202), (st, b))
            return json.loads(b) if st == 200 else None
        doc = rftest.wait_until(ended, 10, interval=0.1, what="the spool-filling job to end")
        self.assertEqual(doc["state"], "failed", doc)
        self.assertRegex(doc.get("reason", ""), r"space|output", doc)
        # The spool is usable again at once, not after the TTL.
        for i in range(3):
            self.assertEqual(http(s.port, "POST", "/tasks/echo", f"after {i}".encode())[::2],
                             (200, f"after {i}".encode()))

    def test_output_over_the_cap_fails_the_job(self):
        spool = os.path.join(self.tmpdir(), "spool")
        s = self.start(spool, "--task", "big=head -c 300000 /dev/zero", "--task-max-output", "100k")
        status, headers, _ = http(s.port, "POST", "/tasks/big?async=1")
        self.assertEqual(status, 202)
        location = headers["location"]
        doc = rftest.wait_until(lambda: (lambda r: r[0] == 200 and json.loads(r[2]))(http(s.port, "GET", location)),
                                10, interval=0.1, what="the job to end")
        self.assertEqual(doc["state"], "failed", doc)
        self.assertIn("output", doc.get("reason", ""), doc)
        self.assertLessEqual(doc["output_bytes"], 100 * 1024, doc)
        status, _, body = http(s.port, "POST", "/tasks/big")
        self.assertEqual(status, 502)
        self.assertLessEqual(len(body), 100 * 1024)

    def test_spool_is_reclaimed_by_size(self):
        spool = os.path.join(self.tmpdir(), "spool")
        s = self.start(spool, "--task", "blob=head -c 300000 /dev/zero", "--task-spool-max", "1m")
        locations = []
        for _ in range(6):
            status, headers, _ = http(s.port, "POST", "/tasks/blob?async=1")
            self.assertEqual(status, 202)
            locations.append(headers["location"])
            rftest.wait_until(lambda: http(s.port, "GET", locations[-1])[0] == 200, 10, interval=0.05,
                              what="the job to end")

        def spool_bytes():
            # The sweep runs while we walk: a file removed between the listing and its lstat
            # holds no bytes any more, so it counts as zero.
            total = 0
            for n in job_files(spool):
                try:
                    total += os.lstat(os.path.join(spool, n)).st_size
                except FileNotFoundError:
                    pass
            return total
        rftest.wait_until(lambda: spool_bytes() <= 1 << 20, 15, interval=0.2,
                          what=f"the spool to shrink to 1 MiB ({spool_bytes()} bytes before waiting)")
        # Oldest first: the newest job is still readable, the oldest is gone.
        self.assertEqual(len(http(s.port, "GET", locations[-1] + "/output")[2]), 300000)
        self.assertEqual(http(s.port, "GET", locations[0])[0], 404)

    # --- also: a synchronous job's files do not outlive its answer ---------------------------

    def test_sync_jobs_leave_no_files(self):
        spool = os.path.join(self.tmpdir(), "spool")
        s = self.start(spool, "--task", 'slow=sh -c "sleep 1; echo late"', "--task", "echo=cat")
        self.assertEqual(http(s.port, "POST", "/tasks/echo", b"x")[::2], (200, b"x"))
        rftest.wait_until(lambda: not job_files(spool), 3, what=f"no job files after an answer: {job_files(spool)}")
        # A client that leaves (with a reset) before its synchronous job ends.
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
            c.sendall(b"POST /tasks/slow HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
            rftest.wait_until(lambda: any(rftest.children(r) for r in runners(s)), 3, what="the job to start")
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        rftest.wait_until(lambda: not any(rftest.children(r) for r in runners(s)), 5, what="the job to end")
        rftest.wait_until(lambda: not job_files(spool), 3,
                          what=f"no job files after the client left: {job_files(spool)}")


if __name__ == "__main__":
    rftest.main()
