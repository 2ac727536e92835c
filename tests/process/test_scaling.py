"""Scaling and steering (issue 15 defect 11): after any sequence of TTIN, TTOU and reload,
every live worker receives new connections. With reuseport listeners a retiring slot is
steered around by a BPF program; reviving that slot (TTIN soon after TTOU) must steer
connections to it again. Each check puts wrk -c200 on the server and compares every live
worker's accepted-connection count."""
import signal
import time
import unittest

import rftest

ADMIN = r"admin: http://127\.0\.0\.1:(\d+)/"


class Steering(unittest.TestCase):
    def server(self, workers=3):
        s = rftest.Server("--demo", "--admin", "127.0.0.1:0", workers=workers)
        self.addCleanup(s.stop)
        s.admin = int(s.wait_log(ADMIN).group(1))
        return s

    def live(self, s, count):
        """The ready workers once there are exactly `count` of them, one per slot 0..count-1."""
        def ready():
            rows = [w for w in rftest.admin_stats(s.admin)["workers"] if w["state"] == "ready"]
            slots = sorted(w["slot"] for w in rows)
            return rows if slots == list(range(count)) and len(rftest.admin_stats(s.admin)["workers"]) == count \
                else None
        return rftest.wait_until(ready, 15, interval=0.1, what=f"{count} ready workers, one per slot, none draining")

    def assert_every_worker_accepts(self, s, count, why):
        before = {w["pid"]: w["connections_accepted"] for w in self.live(s, count)}
        w = rftest.start_wrk(s.port, connections=200, seconds=3)
        self.addCleanup(rftest.stop_wrk, w)
        r = rftest.wrk_result(w, 30)
        self.assertEqual(r["rc"], 0, r["output"])
        self.assertGreater(r["requests"], 0, r["output"])
        after = rftest.wait_until(
            lambda: (lambda rows: rows if sum(x["connections_accepted"] for x in rows) -
                     sum(before.values()) >= 200 else None)(
                [x for x in rftest.admin_stats(s.admin)["workers"] if x["pid"] in before]),
            5, interval=0.1, what="the workers' snapshots to count wrk's 200 connections")
        got = {x["slot"]: x["connections_accepted"] - before[x["pid"]] for x in after}
        total = sum(got.values())
        self.assertEqual(len(got), count, f"{why}: {got}")
        for slot, n in sorted(got.items()):
            # An even spread is 1/count of the total; steering around a slot gives it nothing.
            self.assertGreaterEqual(n, total // (4 * count), f"{why}: slot {slot} accepted {n} of {total}: {got}")

    def test_ttou_then_ttin_revives_a_slot_that_gets_connections(self):
        s = self.server(3)
        self.assert_every_worker_accepts(s, 3, "at start")
        mark = len(s.lines)
        s.signal(signal.SIGTTOU)
        s.wait_log(r"scale: 2 workers", 5)
        time.sleep(0.3)  # the pacing: TTIN while the retiring worker still drains
        s.signal(signal.SIGTTIN)
        rftest.wait_until(lambda: any("scale: 3 workers" in l for l in s.lines[mark:]), 5, what="scale: 3 workers")
        self.assert_every_worker_accepts(s, 3, "after TTOU then TTIN")

    def test_mixed_sequences(self):
        s = self.server(3)
        # Two down, one back before either has drained.
        for sig in (signal.SIGTTOU, signal.SIGTTOU, signal.SIGTTIN):
            s.signal(sig)
            time.sleep(0.1)  # pacing: separate signals, not one coalesced
        rftest.wait_until(lambda: s.count_log(r"scale: 2 workers") >= 2, 5, what="back to 2 workers")
        self.assert_every_worker_accepts(s, 2, "after TTOU, TTOU, TTIN")
        # A reload brings back --workers 3.
        s.signal(signal.SIGHUP)
        rftest.wait_until(lambda: s.count_log(r"reload complete") >= 1, 15, what="the reload")
        self.assert_every_worker_accepts(s, 3, "after a reload scaled back up")
        # One down, and a reload (back to 3) while that slot still retires.
        s.signal(signal.SIGTTOU)
        rftest.wait_until(lambda: s.count_log(r"scale: 2 workers") >= 3, 5, what="2 workers again")
        s.signal(signal.SIGHUP)
        rftest.wait_until(lambda: s.count_log(r"reload complete") >= 2, 15, what="the second reload")
        self.assert_every_worker_accepts(s, 3, "after TTOU then a reload")
        s.signal(signal.SIGTTIN)
        rftest.wait_until(lambda: s.count_log(r"scale: 4 workers") >= 1, 5, what="4 workers")
        self.assert_every_worker_accepts(s, 4, "after TTIN to 4")

if __name__ == "__main__":
    rftest.main()
