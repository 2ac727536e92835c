"""Raw-socket HTTP/1.1 deadlines against one --demo worker: the header deadline counted from
the first byte and never extended (a slowloris client gets 408 while others are served),
the body deadline, and idle keep-alive and silent connections closed without a response.
Every test ends with the worker healthy."""
import time

import rftest
import conformance_helpers
from conformance_helpers import GET, HOST, OK


class TimeoutTest(conformance_helpers.ServerCase):
    """Deadlines: header (from the first byte, never extended), body, idle keep-alive."""
    ARGS = ("--header-timeout", "1", "--idle-timeout", "2", "--body-timeout", "1")

    def tearDown(self):
        self.assert_healthy()

    def test_slowloris_gets_408_at_header_deadline(self):
        """One header byte every 200 ms: 408 and close within ~1.5 s of the first byte;
        other clients are served meanwhile."""
        data = GET + HOST + b"X-Slow: " + b"z" * 40
        with self.conn() as c:
            first = time.monotonic()
            got_at = None
            served_others = 0
            for i in range(len(data)):  # bounded: at most len(data) bytes, 200 ms apart
                try:
                    c.send(data[i:i + 1])
                except (BrokenPipeError, ConnectionResetError):
                    break
                if i == 2:  # meanwhile another client is served promptly
                    t0 = time.monotonic()
                    with self.conn() as other:
                        other.send(OK)
                        self.assertEqual(other.response()[0], 200)
                    self.assertLess(time.monotonic() - t0, 0.5)
                    served_others += 1
                if c.recv_for(0.2):
                    got_at = time.monotonic()
                    break
                if time.monotonic() - first > 3.0:
                    break
            self.assertIsNotNone(got_at, "no response to the slow client within 3 s")
            elapsed = got_at - first
            self.assertLess(elapsed, 1.5, f"408 came {elapsed:.2f}s after the first byte")
            self.assertGreater(elapsed, 0.8, f"408 came early ({elapsed:.2f}s)")
            status, headers, _ = c.response()
            self.assertEqual(status, 408)
            self.assertEqual(headers.get("connection"), "close")
            self.assertTrue(c.closed(1.0))
            self.assertLess(time.monotonic() - first, 2.0)
            self.assertEqual(served_others, 1)

    def test_body_timeout_408(self):
        with self.conn() as c:
            c.send(GET + HOST + b"Content-Length: 10\r\n\r\n012")
            t0 = time.monotonic()
            status, headers, _ = c.response()
            elapsed = time.monotonic() - t0
            self.assertEqual(status, 408)
            self.assertTrue(0.8 < elapsed < 1.6, f"body deadline after {elapsed:.2f}s")
            self.assertTrue(c.closed(1.0))

    def test_idle_keep_alive_closed_and_fresh_idle_closed(self):
        """A keep-alive connection after a response, and a connection that never sends,
        are both closed (silently) after the idle timeout of ~2 s; others are still served."""
        with self.conn(timeout=5) as c, self.conn(timeout=5) as silent:
            c.send(OK)
            self.assertEqual(c.response()[0], 200)
            t0 = time.monotonic()
            time.sleep(1.0)
            with self.conn() as other:  # the server keeps serving meanwhile
                other.send(OK)
                self.assertEqual(other.response()[0], 200)
            self.assertTrue(c.closed(3.5), "idle keep-alive connection not closed")
            elapsed = time.monotonic() - t0
            self.assertTrue(1.7 < elapsed < 3.0, f"idle close after {elapsed:.2f}s")
            self.assertEqual(c.buf, b"", "idle close should not send a response")
            self.assertTrue(silent.closed(1.5), "connection that never sent a byte not closed")
            self.assertEqual(silent.buf, b"")


if __name__ == "__main__":
    rftest.main()
