"""Black-box supervision: worker crashes are refilled (with back-off when repeated),
TERM/QUIT drain in-flight requests, INT stops fast, and workers die with their master."""
import os
import re
import signal
import socket
import threading
import time
import unittest

import rftest

PLAIN = b"Hello, World!"
ENDED = r"worker (\d+) \(pid {pid}\) ended with signal 9 \(Killed\) after [\d.]+ s; refilling slot in (\d+) ms"


def one_request(port, timeout=2.0):
    """One GET /plaintext on a new connection (Connection: close); True on a complete 200."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /plaintext HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data, closed = rftest.recv_until_close(s, timeout)
    except OSError:
        return False
    return closed and data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"\r\n\r\n" + PLAIN)


class Load(threading.Thread):
    """Requests in a loop, each on a new connection, until stopped or its bounds run out."""

    def __init__(self, port, max_requests=20000, max_seconds=25.0):
        super().__init__(daemon=True)
        self.port = port
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.results = []  # (monotonic start time, ok)
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()

    def run(self):
        deadline = time.monotonic() + self.max_seconds
        for _ in range(self.max_requests):
            if self.stop_flag.is_set() or time.monotonic() >= deadline:
                return
            t = time.monotonic()
            ok = one_request(self.port)
            with self.lock:
                self.results.append((t, ok))

    def snapshot(self):
        with self.lock:
            return list(self.results)

    def stop(self):
        self.stop_flag.set()
        self.join(5)


def tcp_rx_queue(server_port, client_port):
    """rx_queue of the server side of one loopback TCP connection, or None if not listed."""
    for local, remote, _, rx in rftest.tcp_sockets():
        if local == server_port and remote == client_port:
            return rx
    return None


class WorkerCrash(unittest.TestCase):
    def test_kill9_worker_refilled_under_load(self):
        with rftest.Server("--demo", workers=2) as s:
            before = rftest.wait_until(lambda: (lambda w: w if len(w) == 2 else None)(s.workers()),
                                       5, what="2 workers")
            load = Load(s.port)
            load.start()
            self.addCleanup(load.stop)
            rftest.wait_until(lambda: sum(ok for _, ok in load.snapshot()) >= 20, 10,
                              what="20 requests before the kill")
            victim = before[0]
            t_kill = time.monotonic()
            os.kill(victim, signal.SIGKILL)

            def refilled():
                w = s.workers()
                return len(w) == 2 and victim not in w and w
            after = rftest.wait_until(refilled, 5, interval=0.002, what="a new worker in the killed one's place")
            t_refill = time.monotonic()
            print(f"\n  refill: new worker visible {1000 * (t_refill - t_kill):.1f} ms after kill -9", flush=True)
            self.assertIn(before[1], after, "the surviving worker changed")
            s.wait_log(ENDED.format(pid=victim) + r"$", 5)
            self.assertRegex(s.log(), ENDED.format(pid=victim).replace(r"(\d+) ms", "0 ms"))

            rftest.wait_until(lambda: len([r for r in load.snapshot() if r[0] >= t_refill]) >= 50, 15,
                              what="50 requests after the refill")
            load.stop()
            results = load.snapshot()
            late = [ok for t, ok in results if t >= t_refill]
            failed_before = sum(1 for t, ok in results if t < t_refill and not ok)
            print(f"  {len(results)} requests, {failed_before} failed around the kill, "
                  f"{late.count(False)} failed of {len(late)} after the refill", flush=True)
            self.assertGreaterEqual(len(late), 50)
            self.assertTrue(all(late), f"{late.count(False)} of {len(late)} requests failed after the refill")
            self.assertEqual(len(s.workers()), 2)
            self.assertTrue(rftest.alive(s.pid))

    def test_repeated_crashes_back_off(self):
        with rftest.Server("--demo", workers=2) as s:
            current = set(rftest.wait_until(lambda: (lambda w: w if len(w) == 2 else None)(s.workers()),
                                            5, what="2 workers"))
            victim = min(current)
            slots, delays, waited = [], [], []
            for k in range(4):
                t_kill = time.monotonic()
                os.kill(victim, signal.SIGKILL)
                m = s.wait_log(ENDED.format(pid=victim), 5)
                slots.append(int(m.group(1)))
                delays.append(int(m.group(2)))
                others = current - {victim}

                def replacement():
                    w = set(s.workers())
                    new = w - current
                    return len(w) == 2 and others <= w and len(new) == 1 and new
                new = rftest.wait_until(replacement, 5, interval=0.002, what=f"refill after kill {k + 1}")
                waited.append(time.monotonic() - t_kill)
                current = others | new
                victim = next(iter(new))
            print(f"\n  delays logged {delays} ms; kill-to-refill "
                  f"{[round(1000 * w) for w in waited]} ms", flush=True)
            self.assertEqual(len(set(slots)), 1, f"kills hit different slots: {slots}")
            self.assertEqual(delays, [0, 100, 200, 400])
            for d, w in zip(delays, waited):
                self.assertGreaterEqual(w * 1000 + 5, d, f"slot refilled after {w * 1000:.0f} ms, before its {d} ms")
                self.assertLess(w * 1000, d + 2000, f"slot refilled only after {w * 1000:.0f} ms (delay {d} ms)")
            with rftest.Conn(s.port) as c:
                c.send(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
                self.assertEqual(c.response()[2], PLAIN)


class Stopping(unittest.TestCase):
    def worker_fds(self, s):
        return {p: rftest.socket_fds(p) for p in s.workers()}

    def test_term_finishes_in_flight_request(self):
        timeout = 10.0
        with rftest.Server("--demo", "--shutdown-timeout", str(timeout), workers=2) as s:
            base = rftest.wait_until(lambda: (lambda d: d if len(d) == 2 else None)(self.worker_fds(s)),
                                     5, what="2 workers")
            c = rftest.Conn(s.port)
            self.addCleanup(c.close)
            client_port = c.sock.getsockname()[1]
            body = b"0123456789"
            c.send(b"POST /plaintext HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n" + body[:4])

            def holder():
                now = self.worker_fds(s)
                grown = [p for p in base if now.get(p, 0) > base[p]]
                return len(grown) == 1 and tcp_rx_queue(s.port, client_port) == 0 and grown[0]
            busy = rftest.wait_until(holder, 5, what="a worker to accept and read the partial request")
            idle = next(p for p in base if p != busy)

            t_term = time.monotonic()
            s.signal(signal.SIGTERM)
            s.wait_log(r"Terminated: graceful stop", 5)
            # The idle worker drains at once: by then the drain order has gone out to both.
            rftest.wait_until(lambda: not rftest.alive(idle), 5, what="the idle worker to exit")
            self.assertTrue(rftest.alive(busy), "the worker with a request in flight exited early")
            self.assertIsNone(s.proc.poll(), "master exited with a request in flight")

            c.send(body[4:])
            status, h, resp = c.response()
            self.assertEqual(status, 405)
            self.assertEqual(h.get("allow"), "GET, HEAD")
            self.assertEqual(len(resp), int(h["content-length"]))
            self.assertEqual(h.get("connection", "").lower(), "close", "a draining server should announce close")
            self.assertTrue(c.closed(5.0), "connection not closed after the drained response")
            self.assertEqual(s.wait_exit(timeout + 5), 0)
            took = time.monotonic() - t_term
            self.assertLess(took, timeout, f"master took {took:.1f} s to stop")
            s.wait_log(r"stopped after [\d.]+ s", 2)
            self.assertNotIn("still running at the stop deadline", s.log())

    def idle_connection(self, s):
        c = rftest.Conn(s.port)
        self.addCleanup(c.close)
        c.send(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertEqual(c.response()[2], PLAIN)
        return c

    def graceful_with_idle_connection(self, sig, name):
        with rftest.Server("--demo", "--shutdown-timeout", "10", workers=2) as s:
            c = self.idle_connection(s)
            workers = s.workers()
            t = time.monotonic()
            s.signal(sig)
            s.wait_log(name + r": graceful stop", 5)
            self.assertTrue(c.closed(8.0), "idle keep-alive connection not closed after the stop signal")
            self.assertEqual(c.buf, b"")
            self.assertEqual(s.wait_exit(10), 0)
            print(f"\n  {name}: exit {time.monotonic() - t:.2f} s after the signal", flush=True)
            s.wait_log(r"stopped after [\d.]+ s", 2)
            self.assertNotIn("still running at the stop deadline", s.log())
            rftest.wait_until(lambda: not any(rftest.alive(p) for p in workers), 2, what="workers gone")

    def test_term_closes_idle_keep_alive(self):
        self.graceful_with_idle_connection(signal.SIGTERM, "Terminated")

    def test_quit_like_term(self):
        self.graceful_with_idle_connection(signal.SIGQUIT, "Quit")

    def test_term_to_the_whole_group_logs_no_channel_error(self):
        # A service manager stops every process of the service at once (systemd's
        # KillMode=control-group): each worker drains on its own TERM and may exit before
        # it has read the drain order the master sends it. The master then reads a reset on
        # that channel instead of an end-of-file; it means the same (the worker is gone, its
        # exit is reaped), so it is no error. Which of the two the master sees depends on
        # timing: five stops make a reset all but certain.
        for attempt in range(5):
            with self.subTest(attempt=attempt):
                s = rftest.Server("--demo", workers=2)
                try:
                    os.killpg(s.pid, signal.SIGTERM)
                    self.assertEqual(s.wait_exit(15), 0, s.log())
                    s.wait_log(r"stopped after [\d.]+ s", 5)
                    self.assertEqual(s.count_log(r"channel of worker"), 0, s.log())
                finally:
                    s.stop()

    def test_int_stops_fast(self):
        with rftest.Server("--demo", "--shutdown-timeout", "30", workers=2) as s:
            c = self.idle_connection(s)
            workers = s.workers()
            t = time.monotonic()
            s.signal(signal.SIGINT)
            rc = s.wait_exit(5)
            took = time.monotonic() - t
            print(f"\n  INT: exit {took:.2f} s after the signal", flush=True)
            self.assertLess(took, 2.0, "SIGINT did not stop within 2 s")
            self.assertEqual(rc, 0, s.log())
            self.assertTrue(c.closed(1.0), "idle connection still open after SIGINT stop")
            rftest.wait_until(lambda: not any(rftest.alive(p) for p in workers), 2, what="workers gone")


class MasterDeath(unittest.TestCase):
    def test_sigkill_master_takes_workers_down(self):
        with rftest.Server("--demo", workers=2) as s:
            workers = rftest.wait_until(lambda: (lambda w: w if len(w) == 2 else None)(s.workers()),
                                        5, what="2 workers")
            port = s.port
            c = rftest.Conn(port)
            self.addCleanup(c.close)
            c.send(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(c.response()[2], PLAIN)
            t = time.monotonic()
            os.kill(s.pid, signal.SIGKILL)  # the master alone, not its process group
            s.proc.wait(5)
            rftest.wait_until(lambda: not any(rftest.alive(p) for p in workers), 2,
                              what="workers to exit after the master's death")
            print(f"\n  workers gone {time.monotonic() - t:.2f} s after kill -9 of the master", flush=True)
            self.assertTrue(c.closed(2.0), "client connection survived the workers")

            rftest.assert_port_released(port)


if __name__ == "__main__":
    rftest.main()
