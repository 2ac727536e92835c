"""Supervised apps (--app) across the master's own changes: a binary upgrade (USR2) under a
small load fails no request, the new master's instances serve afterwards and the old
master's instances (with their process groups and keepers) are gone once it has left; and a
worker that starts after the instances are up (kill -9 of a worker, the slot refilled) is
given the addresses of the instances that serve now, not those of the start."""
import os
import re
import shutil
import signal
import tempfile
import threading
import time
import unittest

import rftest
from proxy_helpers import AppServer, node_command, process_group_members, request

HELLO = re.compile(rb"hello from node (\d+) instance (\d+)$")


def answered_by(response):
    """The (pid, index) of the instance that answered /hello, or None for another answer."""
    m = HELLO.match(response.body) if response.status == 200 else None
    return (int(m.group(1)), int(m.group(2))) if m else None


def reaches(port, instances, tries=60):
    """GETs /hello on fresh connections until every instance in `instances` (pid, index)
    has answered; every answer must come from one of them. The set that answered."""
    seen = set()
    for _ in range(tries):
        r = request(port, "GET", "/hello")
        who = answered_by(r)
        assert who in instances, f"answered by {who} (status {r.status}, {r.body[:120]!r}), not by one of {instances}"
        seen.add(who)
        if seen == instances:
            break
    return seen


class Load:
    """A few client threads, each sending GET /hello on a fresh connection one after the
    other until stopped (at most `per_thread` requests or `seconds` each), recording every
    answer that is not a 200 from the app and every request that failed outright."""

    def __init__(self, port, threads=3, per_thread=5000, seconds=90.0):
        self.port = port
        self.ok = 0
        self.failures = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(per_thread, seconds), daemon=True)
                         for _ in range(threads)]
        for t in self._threads:
            t.start()

    def _run(self, per_thread, seconds):
        deadline = time.monotonic() + seconds
        for _ in range(per_thread):
            if self._stop.is_set() or time.monotonic() >= deadline:
                return
            try:
                r = request(self.port, "GET", "/hello", timeout=15.0)
                failure = None if answered_by(r) else f"{r.status} {r.body[:80]!r}"
            except (OSError, AssertionError) as e:
                failure = repr(e)
            with self._lock:
                if failure:
                    self.failures.append(failure)
                else:
                    self.ok += 1

    def count(self):
        with self._lock:
            return self.ok + len(self.failures)

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(20)
        return self.ok, list(self.failures)


def helper_of(port):
    """The pid of the helper child an instance keeps in its process group (GET /env)."""
    body = request(port, "GET", "/env").body
    return int(body.split(b'"child":')[1].rstrip(b"}"))


class Upgrade(unittest.TestCase):
    def test_usr2_with_apps_fails_no_request_and_leaves_no_old_instance(self):
        where = tempfile.mkdtemp(prefix="rf-apps-upgrade-")
        self.addCleanup(shutil.rmtree, where, True)
        pid_file = os.path.join(where, "ringfork.pid")
        with AppServer(node_command(), "--pid-file", pid_file, instances=2, workers=1) as a:
            s = a.server
            old_master = s.pid
            self.addCleanup(rftest.kill_session, old_master)  # the new master shares the session
            old = {(i["pid"], i["index"]) for i in a.wait_ready(2)}
            self.assertEqual(reaches(s.port, old), old)
            old_pids = {p for p, _ in old}
            # The old instances' whole groups: each instance and the helper child it keeps.
            old_members = {p for g in old_pids for p in process_group_members(g)}
            self.assertTrue(old_pids < old_members, old_members)
            old_keepers = {int(k) for k in re.findall(r"keeper pid (\d+)", s.log())}
            self.assertEqual(len(old_keepers), 2, s.log())

            load = Load(s.port)
            self.addCleanup(load.stop)
            rftest.wait_until(lambda: load.count() >= 50, 30, interval=0.05, what="the load under way")

            os.kill(old_master, signal.SIGUSR2)
            new_master = rftest.wait_until(
                lambda: (lambda p: p if p and p != old_master and rftest.alive(p) else None)(
                    rftest.read_pid_file(pid_file)), 60, interval=0.05, what="the new master's pid in the pid file")
            s.wait_log(rf"\[master {old_master}\] .*upgrade: new master {new_master} is ready", 60)
            self.assertEqual(s.wait_exit(60), 0, "the old master's exit status")
            # Requests kept coming after the old master had gone.
            after_exit = load.count()
            rftest.wait_until(lambda: load.count() >= after_exit + 50, 30, interval=0.05,
                              what="requests after the old master left")
            ok, failures = load.stop()
            print(f"\n  {ok} requests answered by the app across the upgrade, {len(failures)} failed", flush=True)
            self.assertEqual(failures, [], f"{len(failures)} failed of {ok + len(failures)}")
            self.assertGreater(ok, 100)

            # Nothing of the old master's apps is left: instances, their helpers, keepers.
            rftest.wait_until(lambda: not any(rftest.alive(p) for p in old_members | old_keepers), 15,
                              what=f"the old master's app processes to end ({old_members | old_keepers})")
            for g in old_pids:
                self.assertEqual(process_group_members(g), [])

            # The new master's own instances serve; ctl (its inherited control socket) lists them.
            new = {(i["pid"], i["index"]) for i in a.wait_ready(2, exclude=old_pids, timeout=30)}
            self.assertFalse({p for p, _ in new} & old_pids)
            for pid, _ in new:
                self.assertEqual(os.getpgid(pid), pid)
            self.assertEqual(reaches(s.port, new), new)
            self.assertEqual(s.count_log(rf"\[master {new_master}\] .*app web\.\d \(pid \d+\) ready on"), 2)


class LateWorker(unittest.TestCase):
    def test_a_refilled_worker_is_given_the_current_instances(self):
        with AppServer(node_command(), instances=2, workers=1) as a:
            s = a.server
            first = {(i["pid"], i["index"]) for i in a.wait_ready(2)}
            self.assertEqual(reaches(s.port, first), first)
            # Instance 0 is replaced on a new port: the addresses now differ from those the
            # master started with.
            victim = next(i for i in a.ready() if i["index"] == 0)
            os.kill(victim["pid"], signal.SIGKILL)
            s.wait_log(rf"app web\.0 \(pid {victim['pid']}\) ended with signal 9", 15)
            current = a.wait_ready(2, exclude={victim["pid"]}, timeout=30)
            replaced = next(i for i in current if i["index"] == 0)
            self.assertNotEqual(replaced["port"], victim["port"])
            now = {(i["pid"], i["index"]) for i in current}
            self.assertEqual(reaches(s.port, now), now)

            [worker] = rftest.wait_until(lambda: s.workers() if len(s.workers()) == 1 else None, 10,
                                         what="one worker")
            os.kill(worker, signal.SIGKILL)
            s.wait_log(rf"worker 0 \(pid {worker}\) ended with signal 9", 15)
            rftest.wait_until(lambda: [p for p in s.workers() if p != worker], 30, interval=0.05,
                              what="the slot refilled")
            # The refilled worker is the only one; through it, both current instances answer
            # and nothing reaches the port of the instance that was killed.
            self.assertEqual(reaches(s.port, now), now)


if __name__ == "__main__":
    rftest.main()
