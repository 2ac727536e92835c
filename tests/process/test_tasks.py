"""Black-box task pool (issue 7): workers stay responsive while CPU-heavy jobs run in the
pool, timeouts kill the whole job, a full queue answers 503, runners are refilled, sync and
async semantics, jobs survive a rolling restart, and no task process outlives ringfork."""
import json
import math
import os
import re
import shutil
import signal
import socket
import tempfile
import time
import unittest

import rftest
from taskutil import JOB_PATH, Call, cmdline, http, runners

PLAIN = b"Hello, World!"
PLAIN_REQUEST = b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"
ADMIN = r"admin: http://127\.0\.0\.1:(\d+)/"

PRIME = 999999999999999989                       # prime: trial division to ~1e9
COMPOSITE = 999999937 * 999999929                # smallest factor ~1e9: about as slow
SPIN = '--task', 'spin=sh -c "sleep 1000 & while :; do :; done"'


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def p99(samples):
    s = sorted(samples)
    return s[max(0, math.ceil(0.99 * len(s)) - 1)]


def running_jobs(s):
    """Job processes: live children of the task runners."""
    return [j for r in runners(s) for j in rftest.children(r) if rftest.alive(j)]


def session_sleepers(sid):
    """Processes of the session running `sleep 1000` (the marker the job commands start)."""
    return [p for p in rftest.session_pids(sid) if cmdline(p)[:2] == ["sleep", "1000"]]


def describe(sid):
    return ", ".join(f"{p}:{rftest.comm(p)}:{' '.join(cmdline(p))}" for p in rftest.session_pids(sid))


class TaskTest(unittest.TestCase):
    def start(self, *args, workers=1, task_workers=2, **kw):
        """A server with its own spool in a fresh temp dir; cleaned up after the test."""
        tmp = tempfile.mkdtemp(prefix="rf-tasks-")
        self.addCleanup(shutil.rmtree, tmp, True)
        spool = os.path.join(tmp, "spool")
        s = rftest.Server("--task-spool", spool, "--task-workers", str(task_workers), *args, workers=workers, **kw)
        self.addCleanup(rftest.kill_session, s.pid)
        self.addCleanup(s.stop)
        rftest.wait_until(lambda: len(runners(s)) == task_workers, 5, what=f"{task_workers} task runners")
        s.wait_log(r"task pool ready: \d+ runners", 5)
        s.spool = spool
        return s

    # 1. The acceptance check.
    def test_worker_stays_responsive_during_cpu_jobs(self):
        s = self.start("--admin", "127.0.0.1:0", workers=1, task_workers=4)
        admin = int(s.wait_log(ADMIN).group(1))

        def running():
            """Jobs running in the pool, as the master counts them: prime and fib are
            function tasks computed inside the runners, so they have no process of their own."""
            return rftest.admin_stats(admin)["tasks"]["running"]
        # Calibrate: fib(40) alone (best of two), then pick n for ~1.2 s alone (~2.5 s with 4
        # jobs on 2 cores); the latency measurement below takes under a second.
        alone = []
        for _ in range(2):
            t0 = time.monotonic()
            status, _, body = http(s.port, "GET", "/fib?n=40")
            alone.append(time.monotonic() - t0)
            self.assertEqual((status, body), (200, f"{fib(40)}\n".encode()))
        alone = min(alone)
        n = 40 + round(math.log(1.2 / max(alone, 0.005)) / math.log((1 + 5 ** 0.5) / 2))
        n = max(40, min(50, n))

        with rftest.Conn(s.port, timeout=5) as c:
            def measure(count, pace):
                lat = []
                for _ in range(count):
                    t = time.perf_counter()
                    c.send(PLAIN_REQUEST)
                    status, _, body = c.response()
                    lat.append(time.perf_counter() - t)
                    self.assertEqual((status, body), (200, PLAIN))
                    time.sleep(pace)  # spreads the samples over the jobs; not synchronisation
                return lat

            idle = measure(100, 0)
            jobs = [Call(s.port, "GET", f"/prime?n={PRIME}"), Call(s.port, "GET", f"/prime?n={COMPOSITE}"),
                    Call(s.port, "GET", f"/fib?n={n}"), Call(s.port, "GET", f"/fib?n={n}")]
            for j in jobs:
                j.start()
            rftest.wait_until(lambda: running() == 4, 5, what="4 jobs running in the pool")
            m0 = time.monotonic()
            busy = measure(200, 0.002)
            m1 = time.monotonic()
            still_running = running()
            results = [j.outcome(30) for j in jobs]

        print(f"\n  fib({n}) calibrated from fib(40) alone in {alone * 1000:.0f} ms; /plaintext p99 idle "
              f"{p99(idle) * 1000:.2f} ms, during 4 jobs {p99(busy) * 1000:.2f} ms (max {max(busy) * 1000:.2f} ms, "
              f"{len(busy)} requests over {m1 - m0:.2f} s); jobs took "
              + ", ".join(f"{r[3]:.2f}" for r in results) + " s", flush=True)
        expected = [f"{PRIME} is prime\n", f"{COMPOSITE} is not prime: divisible by 999999929\n",
                    f"{fib(n)}\n", f"{fib(n)}\n"]
        for (status, headers, body, _), want in zip(results, expected):
            self.assertEqual((status, body.decode(), headers.get("x-task-exit-code")), (200, want, "0"))
        # The measurement really happened while all four jobs were running.
        self.assertEqual(still_running, 4, "a job ended before the latency measurement did; measurement invalid")
        self.assertTrue(all(j.done_at > m1 for j in jobs))
        # The bound. On a 2-core machine that other work also loads, the four jobs plus
        # that load can push the worker's p99 close to it (9.6-9.9 ms seen at load average ~3.3).
        self.assertLess(p99(busy), 0.010 * rftest.LATENCY_FACTOR, f"/plaintext p99 {p99(busy) * 1000:.2f} ms while jobs ran")

    # 2. Timeout: SIGTERM then SIGKILL of the job's whole process group.
    def test_timeout_kills_the_whole_job(self):
        s = self.start(*SPIN, "--task-timeout", "1", workers=1, task_workers=1)
        call = Call(s.port, "POST", "/tasks/spin", timeout=10)
        call.start()
        rftest.wait_until(lambda: session_sleepers(s.pid), 3, what="the job's `sleep 1000` to start")
        status, headers, body, took = call.outcome(10)
        self.assertEqual(status, 504, (headers, body))
        self.assertLess(took, 3.0, f"504 after {took:.2f}s with --task-timeout 1")
        self.assertIn(headers.get("x-task-signal"), ("15", "9"), headers)
        # Nothing of the job remains: no sleep 1000, and only master, workers and runners.
        rftest.wait_until(lambda: not session_sleepers(s.pid), 2, what="the job's `sleep 1000` to be gone")
        known = {s.pid, *s.workers(), *runners(s)}
        extra = [p for p in rftest.session_pids(s.pid) if p not in known]
        self.assertEqual(extra, [], describe(s.pid))
        # The runner is free again.
        rftest.wait_until(lambda: not running_jobs(s), 2, what="the runner to be idle")

    # 3. The queue is the pool socket's backlog: full means 503 at once.
    def test_full_queue_answers_503(self):
        s = self.start("--task", "slow=sleep 1", "--task-queue", "1", workers=1, task_workers=1)
        calls = [Call(s.port, "POST", "/tasks/slow", timeout=20) for _ in range(6)]
        for c in calls:
            c.start()
        results = [c.outcome(25) for c in calls]
        statuses = sorted(r[0] for r in results)
        print(f"\n  6 concurrent slow jobs, 1 runner, queue 1: statuses {statuses}, times "
              + ", ".join(f"{r[3]:.2f}" for r in sorted(results, key=lambda r: r[3])) + " s", flush=True)
        self.assertLessEqual(set(statuses), {200, 503}, statuses)
        self.assertIn(200, statuses)
        self.assertIn(503, statuses)
        for status, headers, body, took in results:
            if status == 503:
                self.assertEqual(headers.get("retry-after"), "1", headers)
                self.assertLess(took, 1.0, "a 503 for a full queue should come at once")

    # 4. A killed runner is replaced and the pool keeps working.
    def test_killed_runner_is_refilled(self):
        s = self.start("--task", "echo=cat", workers=1, task_workers=2)
        before = runners(s)
        victim = before[0]
        os.kill(victim, signal.SIGKILL)
        def replaced():
            now = runners(s)
            return now if len(now) == 2 and victim not in now else None
        # The list the wait saw: a second look at /proc can catch a runner mid-exec.
        now = rftest.wait_until(replaced, 5, what="a new task runner to replace the killed one")
        self.assertEqual(len(set(now) - set(before)), 1, (before, now))
        s.wait_log(rf"task runner \d+ \(pid {victim}\) ended with", 2)
        for i in range(4):  # both runners get to serve
            status, headers, body = http(s.port, "POST", "/tasks/echo", f"ping {i}".encode())
            self.assertEqual((status, body, headers.get("x-task-exit-code")), (200, f"ping {i}".encode(), "0"))

    # 5. Synchronous jobs: body in, stdout out, exit codes, unknown tasks.
    def test_sync_semantics(self):
        s = self.start("--task", "echo=cat", "--task", 'fail=sh -c "echo out; echo err >&2; exit 3"',
                       workers=1, task_workers=2)
        status, headers, body = http(s.port, "POST", "/tasks/echo", b"hello\x00world\n")
        self.assertEqual((status, body, headers.get("x-task-exit-code")), (200, b"hello\x00world\n", "0"))
        self.assertTrue(re.fullmatch(r"[0-9a-f]{32}", headers.get("x-task-job", "")), headers)
        big = os.urandom(300 * 1024)  # several times the runner's 64 KiB window
        status, headers, body = http(s.port, "POST", "/tasks/echo", big, timeout=15)
        self.assertEqual((status, len(body), body == big), (200, len(big), True))
        status, headers, body = http(s.port, "POST", "/tasks/echo")
        self.assertEqual((status, body), (200, b""))

        status, headers, body = http(s.port, "POST", "/tasks/fail")
        self.assertEqual((status, body, headers.get("x-task-exit-code")), (502, b"out\n", "3"))
        job = headers.get("x-task-job")
        s.wait_log(rf"task fail job {job} exit 3: err\\n", 3)  # stderr goes to the log, not the body

        status, _, _ = http(s.port, "POST", "/tasks/nosuchtask")
        self.assertEqual(status, 404)
        status, _, _ = http(s.port, "POST", "/tasks/bad.name")
        self.assertEqual(status, 404)

    # 6. Asynchronous jobs.
    def test_async_jobs(self):
        s = self.start("--task", 'slow=sh -c "sleep 2; echo done"', workers=1, task_workers=1)
        t0 = time.monotonic()
        status, headers, body = http(s.port, "POST", "/tasks/slow?async=1")
        self.assertEqual(status, 202, (headers, body))
        self.assertLess(time.monotonic() - t0, 1.0, "an async submit must not wait for the job")
        location = headers.get("location", "")
        m = JOB_PATH.match(location)
        self.assertTrue(m, headers)
        self.assertEqual(json.loads(body)["id"], m.group(1))

        # GET on the job answers its state as JSON (202 while it is queued or running); the
        # output is at .../output. The job starts within moments of its submission.
        def state():
            status, _, body = http(s.port, "GET", location)
            return status, json.loads(body)["state"]
        self.assertEqual(rftest.wait_until(lambda: (lambda r: r if r[1] != "queued" else None)(state()), 1,
                                           interval=0.02, what="the job to start"),
                         (202, "running"), "job should still be running 2 s after submit")

        def finished():
            r = http(s.port, "GET", location)
            return r if r[0] != 202 else None
        status, headers, body = rftest.wait_until(finished, 10, interval=0.1, what="the async job to finish")
        self.assertEqual((status, json.loads(body)["state"], json.loads(body)["exit_code"]), (200, "done", 0))
        status, headers, body = http(s.port, "GET", location + "/output")
        self.assertEqual((status, body, headers.get("x-task-exit-code")), (200, b"done\n", "0"))
        self.assertEqual(http(s.port, "GET", location + "/output")[:3:2], (200, b"done\n"), "result readable again")
        status, headers, body = http(s.port, "HEAD", location + "/output")
        self.assertEqual((status, headers.get("content-length")), (200, "5"))

        self.assertEqual(http(s.port, "GET", "/tasks/jobs/" + "0123456789abcdef" * 2)[0], 404)
        for bad in ("xyz", "0" * 31, "0" * 33, "A" * 32, "g" * 32, "..%2F..%2Fetc%2Fpasswd", ""):
            self.assertEqual(http(s.port, "GET", "/tasks/jobs/" + bad)[0], 404, bad)

    # A client that closes its connection cleanly (a FIN, as curl interrupted does) while
    # its synchronous job runs has left: the job is cancelled and its processes killed. An
    # async submit that shuts down its sending side still gets its 202, and its job runs on.
    def test_a_client_that_closes_cleanly_cancels_its_sync_job(self):
        s = self.start(*SPIN, "--task", 'slow=sh -c "sleep 1; echo done"', "--task-timeout", "60",
                       workers=1, task_workers=1)
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
            c.sendall(b"POST /tasks/spin HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
            rftest.wait_until(lambda: session_sleepers(s.pid), 5, what="the job's `sleep 1000` to start")
        rftest.wait_until(lambda: not session_sleepers(s.pid) and not running_jobs(s), 10,
                          what="the job to be killed after its client closed")
        s.wait_log(r"spin job [0-9a-f]+: cancelled", 5)
        with socket.create_connection(("127.0.0.1", s.port), timeout=5) as c:
            c.sendall(b"POST /tasks/slow?async=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
            c.shutdown(socket.SHUT_WR)
            head = c.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 202 "), head)
        location = re.search(rb"[Ll]ocation: (\S+)", head).group(1).decode()
        rftest.wait_until(lambda: http(s.port, "GET", location)[0] == 200, 10, interval=0.1,
                          what="the async job to finish")
        self.assertEqual(http(s.port, "GET", location + "/output")[2], b"done\n")

    # 7. An async job outlives a rolling restart of the workers.
    def test_async_job_survives_hup(self):
        s = self.start("--task", 'slow=sh -c "sleep 2; echo done"', workers=2, task_workers=1)
        status, headers, _ = http(s.port, "POST", "/tasks/slow?async=1")
        self.assertEqual(status, 202)
        location = headers["location"]
        old_workers = set(s.workers())
        s.signal(signal.SIGHUP)
        s.wait_log(r"reload complete", 15)
        rftest.wait_until(lambda: not (set(s.workers()) & old_workers), 5, what="all workers replaced")

        def finished():
            r = http(s.port, "GET", location)
            self.assertIn(r[0], (200, 202), r)
            return r if r[0] == 200 else None
        rftest.wait_until(finished, 10, interval=0.1, what="the job after HUP")
        status, headers, body = http(s.port, "GET", location + "/output")
        self.assertEqual((status, body, headers.get("x-task-exit-code")), (200, b"done\n", "0"))

    # 8a. Graceful stop while a job runs.
    def test_term_while_job_runs(self):
        s = self.start("--task", 'job=sh -c "sleep 1000 & sleep 2; echo done"', workers=1, task_workers=2)
        call = Call(s.port, "POST", "/tasks/job", timeout=15)
        call.start()
        rftest.wait_until(lambda: session_sleepers(s.pid), 3, what="the job to start")
        t0 = time.monotonic()
        s.signal(signal.SIGTERM)
        self.assertEqual(s.wait_exit(10), 0, s.log())
        rftest.wait_until(lambda: not rftest.session_pids(s.pid), max(0.5, 10 - (time.monotonic() - t0)),
                          what="the whole session to be gone after TERM")
        status, headers, body, _ = call.outcome(5)
        print(f"\n  TERM during a job: exit after {time.monotonic() - t0:.2f} s, in-flight job got {status}",
              flush=True)
        self.assertEqual((status, body), (200, b"done\n"), "graceful stop should let the in-flight job finish")

    # 8b. SIGKILL of the master: runners and jobs go with it.
    def test_master_sigkill_leaves_no_task_process(self):
        s = self.start("--task", 'long=sh -c "sleep 1000 & sleep 1000"', workers=1, task_workers=2)
        status, _, _ = http(s.port, "POST", "/tasks/long?async=1")
        self.assertEqual(status, 202)
        rftest.wait_until(lambda: len(session_sleepers(s.pid)) == 2, 3, what="the job's two sleeps")
        os.kill(s.pid, signal.SIGKILL)
        s.proc.wait(5)

        def task_leftovers():
            return [p for p in rftest.session_pids(s.pid)
                    if rftest.comm(p) in ("rf-task", "sh", "sleep") or cmdline(p)[:1] in (["sh"], ["sleep"])]
        try:
            rftest.wait_until(lambda: not task_leftovers(), 3, what="no task runner or job process left")
        except AssertionError as e:
            raise AssertionError(f"{e}: {describe(s.pid)}") from None
        # Workers are not the subject here, but should go too.
        rftest.wait_until(lambda: not rftest.session_pids(s.pid), 5, what=f"session empty ({describe(s.pid)})")

    # 9. Task counters on the admin listener.
    def test_stats_has_task_counters(self):
        s = self.start("--task", "echo=cat", "--task", "fail=sh -c 'exit 3'", "--task", "hang=sleep 30",
                       "--task", 'slow=sh -c "sleep 1.5; echo done"', "--task-timeout", "2",
                       "--admin", "127.0.0.1:0", workers=1, task_workers=2)
        admin = int(s.wait_log(ADMIN).group(1))

        def tasks():
            status, _, body = http(admin, "GET", "/stats")
            self.assertEqual(status, 200)
            doc = json.loads(body)
            if "tasks" not in doc:
                self.skipTest("no task stats exposed (admin /stats keys: " + ", ".join(doc) + ")")
            return doc["tasks"]

        first = tasks()
        self.assertEqual((first["runners"], first["submitted"], first["done"]), (2, 0, 0), first)
        for body in (b"a", b"b"):
            self.assertEqual(http(s.port, "POST", "/tasks/echo", body)[0], 200)
        self.assertEqual(http(s.port, "POST", "/tasks/fail")[0], 502)
        self.assertEqual(http(s.port, "POST", "/tasks/hang")[0], 504)
        want = {"runners": 2, "submitted": 4, "rejected": 0, "queued": 0, "running": 0, "done": 2, "failed": 1,
                "timed_out": 1, "errors": 0}
        try:
            rftest.wait_until(lambda: {k: tasks()[k] for k in want} == want, 3, interval=0.05,
                              what="task counters after 2 ok, 1 failed, 1 timed out")
        except AssertionError as e:
            raise AssertionError(f"{e}: {tasks()}") from None
        self.assertGreaterEqual(tasks()["latency_us"]["max"], 1_900_000, "the timed-out job took >= 2 s")

        # While an async job runs it is counted as running, not queued.
        self.assertEqual(http(s.port, "POST", "/tasks/slow?async=1")[0], 202)
        rftest.wait_until(lambda: running_jobs(s), 1, what="the async job's process")
        seen = []

        def counted_running():
            seen.append(tasks())
            return (seen[-1]["submitted"], seen[-1]["queued"], seen[-1]["running"]) == (5, 0, 1)
        try:  # the job runs for 1.5 s; the counters get 1 s to show it
            rftest.wait_until(counted_running, 1.0, interval=0.05, what="queued 0, running 1 while the job runs")
        except AssertionError as e:
            raise AssertionError(f"{e}; last /stats tasks: {seen[-1]}; job processes now: {running_jobs(s)}") from None

if __name__ == "__main__":
    rftest.main()
