"""Black-box rolling restarts (HUP, config reload, ctl), binary upgrade (USR2) with stats
carried over, scaling (TTIN/TTOU), worker watchdog, log reopen (USR1), and supervision
under wrk load: no request may fail while the server replaces its processes."""
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
from unittest import mock

import rftest

PLAIN = b"Hello, World!"
REQUEST = b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"
ADMIN = r"admin(?: listening on |: http://)127\.0\.0\.1:(\d+)"
TEST_BIN = os.environ.get("RINGFORK_TEST_BIN")


def one_request(port, path="/plaintext", agent="rftest", timeout=3.0):
    """One GET on a new connection (Connection: close); (status, body) or (None, b"")."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: t\r\nUser-Agent: {agent}\r\n"
                      f"Connection: close\r\n\r\n".encode())
            data, closed = rftest.recv_until_close(s, timeout)
    except OSError:
        return None, b""
    if not closed or not data.startswith(b"HTTP/1.1 "):
        return None, data
    return int(data.split(b" ", 2)[1]), data.split(b"\r\n\r\n", 1)[-1]


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def serves(port):
    return one_request(port) == (200, PLAIN)




def n_workers(pid, n):
    """wait_until predicate: the live children of `pid` when there are exactly n."""
    def pred():
        w = [p for p in rftest.children(pid) if rftest.alive(p) and rftest.comm(p) == "rf-worker"]
        return w if len(w) == n else None
    return pred


def wait_line(s, pattern, timeout=10.0, after=0):
    """Like Server.wait_log, but keeps waiting when the first master has exited (after an
    upgrade its successors still log to the same pipe); only lines from index `after` on."""
    rx = re.compile(pattern)

    def find():
        with s._lock:
            lines = s.lines[after:]
        for line in lines:
            m = rx.search(line)
            if m:
                return m
        return None
    return rftest.wait_until(find, timeout, what=f"log /{pattern}/")


def assert_clean_wrk(tc, r, min_requests=1000):
    tc.assertEqual(r["rc"], 0, r["output"])
    tc.assertNotIn("Socket errors", r["output"], r["output"])
    tc.assertNotIn("Non-2xx", r["output"], r["output"])
    tc.assertGreater(r["requests"], min_requests, r["output"])


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rf-restarts-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def server(self, *args, workers=2, pid_file=None, **kw):
        """A Server cleaned up with its whole session, including masters an upgrade started."""
        s = rftest.Server(*args, workers=workers, ready=False, **kw)
        self.addCleanup(s.stop)
        self.addCleanup(self.dump_log_on_failure, s)
        self.addCleanup(lambda: rftest.kill_session(s.pid, rftest.read_pid_file(pid_file) if pid_file else None))
        s.wait_log(r"ready: \d+ workers serving", 15)  # as Server(ready=True), with the cleanups in place
        listening = s.wait_log(r"listening on (.*) with", 15)
        s.ports = [int(p) for p in re.findall(r":(\d+)(?:,|$)", listening.group(1))]
        s.port = s.ports[0]
        return s

    def wrk(self, port, connections, seconds):
        """wrk in the background, once it has most of its connections established."""
        w = rftest.start_wrk(port, connections=connections, seconds=seconds)
        self.addCleanup(rftest.stop_wrk, w)
        rftest.wait_until(lambda: rftest.established(port) >= connections // 2 or w.poll() is not None,
                          5, what="wrk connections")
        if w.poll() is not None:
            self.fail("wrk ended early:\n" + w.stdout.read())
        return w

    def dump_log_on_failure(self, s, n=25):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        if result is not None and any(t is self for t, _ in result.failures + result.errors):
            with s._lock:
                tail = s.lines[-n:]
            print("\n  --- last ringfork log lines ---\n  " + "\n  ".join(tail), flush=True)


class RollingRestart(Base):
    def test_hup_under_load_zero_errors(self):
        s = self.server("--demo", workers=2)
        old = rftest.wait_until(n_workers(s.pid, 2), 5, what="2 workers")
        w = self.wrk(s.port, 128, 10)
        t0 = time.monotonic()
        for i in range(20):
            s.signal(signal.SIGHUP)
            time.sleep(0.45)  # pacing of the signals, not synchronisation
        s.wait_log(r"reload: rolling restart of 2 slots", 5)
        r = rftest.wrk_result(w, 20)
        print(f"\n  20 HUPs in {time.monotonic() - t0:.1f} s; wrk: {r['requests']} requests, "
              f"{s.count_log(r'reload: rolling restart of')} restarts logged, "
              f"{s.count_log(r'reload complete')} completed", flush=True)
        assert_clean_wrk(self, r)

        def settled():
            with s._lock:
                marks = [l for l in s.lines if "reload: rolling restart" in l or "reload complete" in l]
            return marks and "reload complete" in marks[-1]
        rftest.wait_until(settled, 10, what="the last rolling restart to complete")
        now = rftest.wait_until(n_workers(s.pid, 2), 5, what="2 workers after the reloads")
        self.assertFalse(set(old) & set(now), f"old workers {old} still serving: {now}")
        self.assertFalse(any(rftest.alive(p) for p in old), "an old worker is still alive")
        self.assertTrue(serves(s.port))
        self.assertIsNone(s.proc.poll())

    def write_config(self, text):
        p = self.path("ringfork.toml")
        with open(p + ".tmp", "w") as f:
            f.write(text)
        os.replace(p + ".tmp", p)
        return p

    GOOD = 'workers = 2\ndemo = true\nlisten = ["127.0.0.1:0"]\n'
    BAD = 'workers = 2\ndemo = true\nlisten = ["127.0.0.1:0"\nthis is = = not toml\n'

    def test_config_check_flag(self):
        good = self.write_config(self.GOOD)
        r = subprocess.run([rftest.BIN, "-t", "--config", good], capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        bad = self.path("bad.toml")
        with open(bad, "w") as f:
            f.write(self.BAD)
        r = subprocess.run([rftest.BIN, "-t", "--config", bad], capture_output=True, text=True, timeout=10)
        out = (r.stdout + r.stderr).strip()
        self.assertNotEqual(r.returncode, 0, out)
        self.assertEqual(len(out.splitlines()), 1, f"want one line of error, got:\n{out}")
        self.assertIn(bad, out)

    def test_hup_rereads_config_and_rejects_bad_file(self):
        cfg = self.write_config(self.GOOD)
        s = self.server("--config", cfg, workers=None, listen=None)
        rftest.wait_until(n_workers(s.pid, 2), 5, what="2 workers")
        long_line = "/plaintext?" + "a" * 2000
        before = one_request(s.port, long_line)[0]
        self.assertIsNotNone(before)
        self.assertNotEqual(before, 414, "a 2 kB request line is within the default limit")

        # Same file: a plain rolling restart.
        s.signal(signal.SIGHUP)
        s.wait_log(r"reload: rolling restart of 2 slots", 5)
        rftest.wait_until(lambda: s.count_log(r"reload complete") >= 1, 10, what="reload complete")
        self.assertTrue(serves(s.port))

        # Changed file: the new workers run the new setting.
        self.write_config(self.GOOD + "max-request-line = 1024\n")
        s.signal(signal.SIGHUP)
        rftest.wait_until(lambda: s.count_log(r"reload complete") >= 2, 10, what="second reload complete")
        # A generous deadline: under the sanitizer build beside wrk-driven tests a
        # new connection's answer can take seconds; None would mean no answer at all.
        status, body = one_request(s.port, long_line, timeout=15.0)
        self.assertEqual(status, 414, f"HUP did not re-read the config file: {body[:200]!r}")
        self.assertTrue(serves(s.port))

        # Bad file: rejected, the running configuration keeps serving.
        pids = sorted(rftest.wait_until(n_workers(s.pid, 2), 5, what="2 workers"))
        self.write_config(self.BAD)
        s.signal(signal.SIGHUP)
        m = s.wait_log(r"reload rejected:.*", 5)
        print(f"\n  {m.group(0)}", flush=True)
        for _ in range(20):
            self.assertTrue(serves(s.port))
        self.assertEqual(one_request(s.port, long_line)[0], 414, "the old configuration was not kept")
        self.assertEqual(sorted(s.workers()), pids, "a rejected reload replaced workers")
        self.assertEqual(s.count_log(r"reload: rolling restart"), 2)
        self.assertIsNone(s.proc.poll())

    def test_ctl_reload_scale_stop(self):
        sock = self.path("ctl.sock")
        s = self.server("--demo", "--control", sock, workers=2)
        rftest.wait_until(n_workers(s.pid, 2), 5, what="2 workers")

        def ctl(*args):
            return subprocess.run([rftest.BIN, "ctl", "--control", sock, *args], capture_output=True, text=True,
                                  timeout=15)
        r = ctl("reload")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("reload", r.stdout.lower(), r.stdout)
        s.wait_log(r"reload: rolling restart", 5)
        s.wait_log(r"reload complete", 10)
        self.assertTrue(serves(s.port))
        r = ctl("scale", "3")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        rftest.wait_until(n_workers(s.pid, 3), 5, what="3 workers after ctl scale 3")
        self.assertTrue(serves(s.port))
        r = ctl("stop")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(s.wait_exit(15), 0)


class Upgrade(Base):
    def upgrade(self, s, pid_file, old):
        """USR2 to master `old`; returns the new master's pid once it serves and `old` is gone."""
        mark = len(s.lines)
        t = time.monotonic()
        os.kill(old, signal.SIGUSR2)
        new = rftest.wait_until(lambda: (lambda p: p if p and p != old and rftest.alive(p) else None)(
            rftest.read_pid_file(pid_file)), 10, what=f"a new pid in the pid file (old {old})")
        wait_line(s, rf"\[master {new}\] .*ready: 2 workers serving", 10, mark)
        wait_line(s, rf"\[master {old}\] .*upgrade: new master {new} is ready", 5, mark)
        rftest.wait_until(lambda: not rftest.alive(old), 15, what=f"old master {old} to exit")
        took = time.monotonic() - t
        self.assertEqual(rftest.read_pid_file(pid_file), new, "pid file lost the new master's pid")
        rftest.wait_until(n_workers(new, 2), 5, what="2 workers of the new master")
        return new, took

    def test_three_upgrades_under_load(self):
        pid_file = self.path("ringfork.pid")
        s = self.server("--demo", "--pid-file", pid_file, workers=2, pid_file=pid_file)
        rftest.wait_until(lambda: rftest.read_pid_file(pid_file) == s.pid, 5, what="pid file")
        first_workers = rftest.wait_until(n_workers(s.pid, 2), 5, what="2 workers")

        refused, probes, probe_errors = [], [0], []
        stop = threading.Event()

        def probe():
            for _ in range(2000):  # 20 ms apart: 40 s at most
                if stop.is_set():
                    return
                try:
                    socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
                except ConnectionRefusedError:
                    refused.append(time.monotonic())
                except OSError as e:
                    probe_errors.append(repr(e))
                probes[0] += 1
                time.sleep(0.02)
        prober = threading.Thread(target=probe, daemon=True)
        prober.start()
        self.addCleanup(lambda: (stop.set(), prober.join(5)))

        w = self.wrk(s.port, 128, 12)
        master, times = s.pid, []
        for i in range(3):
            t = time.monotonic()
            new, took = self.upgrade(s, pid_file, master)
            times.append(took)
            if i == 0:
                self.assertEqual(s.proc.wait(5), 0, "the first master's exit status")
                self.assertFalse(any(rftest.alive(p) for p in first_workers), "old workers outlived their master")
            self.assertTrue(serves(s.port))
            master = new
            if i < 2:
                time.sleep(max(0.0, 3.0 - (time.monotonic() - t)))  # pacing: spread the upgrades over the run
        wrk_running = w.poll() is None
        r = rftest.wrk_result(w, 20)
        stop.set()
        prober.join(5)
        print(f"\n  upgrades took {[round(x, 2) for x in times]} s; wrk {r['requests']} requests; "
              f"{probes[0]} connect probes, {len(refused)} refused; wrk still running after the 3rd: {wrk_running}",
              flush=True)
        assert_clean_wrk(self, r)
        self.assertEqual(refused, [], "the listening socket was closed during an upgrade")
        self.assertEqual(probe_errors, [])
        self.assertGreater(probes[0], 100)
        self.assertTrue(serves(s.port))
        self.assertEqual(s.count_log(r"upgrade: new master \d+ is ready"), 3)

    def test_stats_survive_upgrade(self):
        pid_file = self.path("ringfork.pid")
        s = self.server("--demo", "--admin", "127.0.0.1:0", "--pid-file", pid_file, workers=2, pid_file=pid_file)
        admin = int(s.wait_log(ADMIN, 5).group(1))
        self.assertEqual(rftest.make_requests(s.port, 1000), 1000)
        rftest.wait_until(lambda: rftest.admin_stats(admin)["totals"]["requests"] >= 1000, 5, what="totals.requests >= 1000")
        rftest.wait_until(lambda: rftest.read_pid_file(pid_file) == s.pid, 5, what="pid file")
        new, _ = self.upgrade(s, pid_file, s.pid)
        self.assertEqual(s.proc.wait(5), 0)
        after = rftest.wait_until(lambda: (lambda j: j if j["master"]["pid"] == new else None)(rftest.admin_stats(admin)), 5,
                                  what="/stats from the new master")
        print(f"\n  after the upgrade: totals.requests {after['totals']['requests']}, "
              f"upgrades {after['master'].get('upgrades')}", flush=True)
        self.assertGreaterEqual(after["totals"]["requests"], 1000)
        self.assertTrue(serves(s.port))


class Supervision(Base):
    def test_kill9_worker_every_second_under_load(self):
        s = self.server("--demo", workers=2)
        current = rftest.wait_until(n_workers(s.pid, 2), 5, what="2 workers")
        w = self.wrk(s.port, 64, 8)
        kills, refill_ms, last_new = 0, [], None
        t_end = time.monotonic() + 6.5
        for _ in range(6):
            if time.monotonic() >= t_end:
                break
            victim = next(p for p in current if p != last_new)  # alternate between the slots
            t_kill = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            kills += 1
            others = set(current) - {victim}

            def refilled():
                now = [p for p in rftest.children(s.pid) if rftest.alive(p) and rftest.comm(p) == "rf-worker"]
                return len(now) == 2 and victim not in now and others <= set(now) and now
            current = rftest.wait_until(refilled, 5, interval=0.002, what=f"refill after kill {kills}")
            refill_ms.append(round(1000 * (time.monotonic() - t_kill), 1))
            last_new = next(iter(set(current) - others))
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t_kill)))  # pacing: one kill a second
        r = rftest.wrk_result(w, 20)
        print(f"\n  {kills} kills, refill (kill -> new pid) {refill_ms} ms; wrk {r['requests']} requests, "
              f"socket errors {r['socket_errors']}, non-2xx {r['non2xx']}", flush=True)
        self.assertEqual(r["rc"], 0, r["output"])
        self.assertGreaterEqual(kills, 5)
        self.assertLessEqual(r["socket_errors_total"], 64 * kills, r["output"])
        self.assertEqual(r["non2xx"], 0, r["output"])
        self.assertGreater(r["requests"], 1000, r["output"])
        self.assertEqual(len(s.workers()), 2)
        self.assertTrue(serves(s.port))

    def test_ttin_ttou(self):
        s = self.server("--demo", workers=2)
        rftest.wait_until(n_workers(s.pid, 2), 5, what="2 workers")
        s.signal(signal.SIGTTIN)
        s.wait_log(r"scale: 3 workers", 5)
        rftest.wait_until(n_workers(s.pid, 3), 5, what="3 workers after TTIN")
        self.assertTrue(serves(s.port))
        s.signal(signal.SIGTTOU)
        s.wait_log(r"scale: 2 workers", 5)
        rftest.wait_until(n_workers(s.pid, 2), 10, what="2 workers after TTOU")
        for _ in range(10):
            self.assertTrue(serves(s.port))

    def test_ttou_ttin_under_load(self):
        s = self.server("--demo", workers=3)
        rftest.wait_until(n_workers(s.pid, 3), 5, what="3 workers")
        w = self.wrk(s.port, 64, 6)
        t0 = time.monotonic()
        time.sleep(1.5)  # pacing: scale in the middle of the run
        s.signal(signal.SIGTTOU)
        s.wait_log(r"scale: 2 workers", 5)
        rftest.wait_until(n_workers(s.pid, 2), 10, what="2 workers after TTOU")
        time.sleep(max(0.0, 3.0 - (time.monotonic() - t0)))  # pacing
        s.signal(signal.SIGTTIN)
        s.wait_log(r"scale: 3 workers", 5)
        rftest.wait_until(n_workers(s.pid, 3), 5, what="3 workers after TTIN")
        self.assertIsNone(w.poll(), "wrk ended before the scaling was done")
        r = rftest.wrk_result(w, 20)
        print(f"\n  TTOU/TTIN under load: wrk {r['requests']} requests", flush=True)
        assert_clean_wrk(self, r)

    @unittest.skipUnless(TEST_BIN and os.path.isfile(TEST_BIN), "RINGFORK_TEST_BIN (RINGFORK_TEST_ROUTES build) not set")
    def test_watchdog_kills_spinning_worker(self):
        with mock.patch.object(rftest, "BIN", TEST_BIN):
            s = self.server("--demo", "--worker-timeout", "1", workers=1)
        old = rftest.wait_until(n_workers(s.pid, 1), 5, what="1 worker")[0]
        spin = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        self.addCleanup(spin.close)
        t = time.monotonic()
        spin.sendall(b"GET /__test/spin HTTP/1.1\r\nHost: t\r\n\r\n")  # no answer expected
        m = s.wait_log(r".*missed heartbeats.*", 5)
        new = rftest.wait_until(lambda: (lambda w: w if len(w) == 1 and w[0] != old else None)(s.workers()),
                                max(0.5, 5 - (time.monotonic() - t)), what="the spinning worker's slot refilled")
        print(f"\n  {m.group(0)}\n  refilled (pid {old} -> {new[0]}) {time.monotonic() - t:.2f} s after the request",
              flush=True)
        self.assertFalse(rftest.alive(old))
        rftest.wait_until(lambda: serves(s.port), 5, what="/plaintext to work again")

    def test_usr1_reopens_access_log(self):
        log = self.path("access.log")
        s = self.server("--demo", "--access-log", log, workers=2)
        self.assertEqual(one_request(s.port, agent="rftest-first"), (200, PLAIN))
        rftest.wait_until(lambda: "rftest-first" in read_text(log), 5, what="the first request in the access log")
        os.rename(log, log + ".1")
        s.signal(signal.SIGUSR1)
        sent = []

        def reopened():  # new requests until one lands in a new file (the reopen is asynchronous)
            if len(sent) < 50:
                sent.append(one_request(s.port, agent=f"rftest-second-{len(sent)}"))
            return "rftest-second" in read_text(log)
        rftest.wait_until(reopened, 5, interval=0.1, what="a new access log with the second request")
        self.assertTrue(all(r == (200, PLAIN) for r in sent), sent)
        with open(log + ".1") as f:
            self.assertIn("rftest-first", f.read())
        print(f"\n  new access log after {len(sent)} request(s)", flush=True)


class MasterKill(Base):
    def test_sigkill_master_leaves_nothing(self):
        s = self.server("--demo", workers=2)
        workers = rftest.wait_until(n_workers(s.pid, 2), 5, what="2 workers")
        port = s.port
        self.assertTrue(serves(port))
        t = time.monotonic()
        os.kill(s.pid, signal.SIGKILL)
        s.proc.wait(5)
        rftest.wait_until(lambda: not any(rftest.alive(p) for p in workers), max(0.1, 1.0 - (time.monotonic() - t)),
                          interval=0.005, what="every worker to exit within 1 s of the master's death")
        print(f"\n  workers gone {1000 * (time.monotonic() - t):.0f} ms after kill -9 of the master", flush=True)
        rftest.wait_until(lambda: not rftest.session_pids(s.pid), 1, what="no process of the session left")

        rftest.assert_port_released(port)


if __name__ == "__main__":
    rftest.main()
