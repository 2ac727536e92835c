"""--max-connections: above the limit a worker stops accepting (the kernel queues new
connections) and resumes once connections close, instead of spinning or refusing."""
import socket
import time
import unittest

import rftest

REQ = b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n"


class MaxConnections(unittest.TestCase):
    def test_accept_pauses_at_the_limit_and_resumes(self):
        with rftest.Server("--demo", "--max-connections", "4", workers=1) as s:
            first = [rftest.Conn(s.port) for _ in range(4)]
            for c in first:
                c.send(REQ)
                self.assertEqual(c.response()[0], 200)
            # The fifth connection completes its handshake in the kernel's queue, but the
            # worker does not take it while four are open: its request stays unanswered.
            fifth = rftest.Conn(s.port)
            fifth.send(REQ)
            fifth.sock.settimeout(0.5)
            with self.assertRaises(socket.timeout):
                fifth.sock.recv(1)
            first[0].close()
            t0 = time.monotonic()
            fifth.timeout = 5
            status, _, body = fifth.response()
            self.assertEqual((status, body), (200, b"Hello, World!"))
            print(f"\nqueued connection served {1000 * (time.monotonic() - t0):.0f} ms after a slot freed")
            # The four still open keep working, and the worker never left its slot.
            for c in first[1:] + [fifth]:
                c.send(REQ)
                self.assertEqual(c.response()[0], 200)
                c.close()
            self.assertEqual(len(s.workers()), 1)
            self.assertEqual(s.count_log(r"ended with"), 0)


if __name__ == "__main__":
    rftest.main()
