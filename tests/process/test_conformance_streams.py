"""Raw-socket HTTP/1.1 over time, against one --demo worker with small limits: pipelines
(good and bad requests in one write, twenty in order, a GET body that looks like a
request), bodies arriving a byte at a time, Expect: 100-continue (the interim response,
exact bytes, chunked, ignored for HTTP/1.0, refused over --max-body), and limits refused
before the request line or head has ended. Every test ends with the worker healthy."""
import time

import rftest
import conformance_helpers
from conformance_helpers import CHUNKED, GET, HELLO, HOST, LIMIT_ARGS, MAX_BODY, MAX_HEADER_BYTES, MAX_REQUEST_LINE, OK


class StreamingTest(conformance_helpers.ServerCase):
    """Pipelines, split writes, Expect: 100-continue and early limit refusals."""
    ARGS = LIMIT_ARGS

    def tearDown(self):
        self.assert_healthy()

    def test_pipeline_good_good_bad_good(self):
        """Two good GETs, a malformed request, a good GET in one write: 200, 200, 400, close."""
        with self.conn() as c:
            c.send(OK + b"GET /json HTTP/1.1\r\n" + HOST + b"\r\n" + b"GET /x HTTP/1.1\r\nHost : a\r\n\r\n" + OK)
            self.assertEqual(c.response()[::2], (200, HELLO))
            self.assertEqual(c.response()[0], 200)
            status, headers, _ = c.response()
            self.assertEqual(status, 400)
            self.assertEqual(headers.get("connection"), "close")
            self.assertTrue(c.closed(3.0))
            self.assertEqual(c.buf, b"", "the request after the malformed one was answered")

    def test_pipeline_twenty_requests_in_order(self):
        reqs = [b"GET /plaintext" if i % 2 == 0 else b"HEAD /json" if i % 3 == 0 else b"GET /json" for i in range(20)]
        with self.conn() as c:
            c.send(b"".join(r + b" HTTP/1.1\r\n" + HOST + b"\r\n" for r in reqs))
            for r in reqs:
                status, headers, body = c.response(head=r.startswith(b"HEAD"))
                self.assertEqual(status, 200)
                if r.startswith(b"HEAD"):
                    self.assertEqual(headers["content-length"], "27")
                else:
                    self.assertEqual(body, HELLO if r.endswith(b"plaintext") else b'{"message":"Hello, World!"}')
            self.assertFalse(c.closed(0.2))

    def test_get_body_is_consumed_not_parsed_as_next_request(self):
        """GET /plaintext with Content-Length: 5 and body "GET /", then a request: two 200s."""
        with self.conn() as c:
            c.send(GET + HOST + b"Content-Length: 5\r\n\r\nGET /" + b"GET /json HTTP/1.1\r\n" + HOST + b"\r\n")
            self.assertEqual(c.response()[::2], (200, HELLO))
            self.assertEqual(c.response()[::2], (200, b'{"message":"Hello, World!"}'))
            self.assertFalse(c.closed(0.2))
            self.assertEqual(c.buf, b"")

    def _send_bytewise(self, c, data):
        for i in range(len(data)):  # bounded: one byte per write, with a short gap so segments stay separate
            c.send(data[i:i + 1])
            if i % 4 == 0:
                time.sleep(0.001)

    def test_chunked_body_split_across_many_writes(self):
        req = GET + HOST + CHUNKED + b"\r\n3;x=y\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-T: z\r\n\r\n"
        with self.conn() as c:
            self._send_bytewise(c, req)
            self.assertEqual(c.response()[::2], (200, HELLO))
            self.assertEqual(c.recv_for(0.2), b"", "more than one response")
            c.send(OK)
            self.assertEqual(c.response()[0], 200)

    def test_content_length_body_split_across_many_writes(self):
        req = GET + HOST + b"Content-Length: 20\r\n\r\n" + b"GET /plaintext HTTP/"
        with self.conn() as c:
            self._send_bytewise(c, req)
            self.assertEqual(c.response()[::2], (200, HELLO))
            self.assertEqual(c.recv_for(0.2), b"", "more than one response")

    def test_expect_100_continue_content_length(self):
        with self.conn() as c:
            c.send(GET + HOST + b"Expect: 100-continue\r\nContent-Length: 10\r\n\r\n")
            status, _, _ = c.response()
            self.assertEqual(status, 100)
            c.send(b"01234")
            self.assertEqual(c.recv_for(0.1), b"", "response before the whole body")
            c.send(b"56789")
            self.assertEqual(c.response()[::2], (200, HELLO))
            self.assertEqual(c.buf, b"", "a second interim response was sent")

    def test_expect_100_continue_exact_bytes(self):
        with self.conn() as c:
            c.send(GET + HOST + b"Expect: 100-continue\r\nContent-Length: 3\r\n\r\n")
            deadline = time.monotonic() + 3
            while len(c.buf) < 25:
                c._more(deadline)
            self.assertEqual(c.buf, b"HTTP/1.1 100 Continue\r\n\r\n")
            c.buf = b""
            c.send(b"abc")
            self.assertEqual(c.response()[0], 200)

    def test_expect_100_continue_chunked(self):
        with self.conn() as c:
            c.send(GET + HOST + b"Expect: 100-continue\r\n" + CHUNKED + b"\r\n")
            self.assertEqual(c.response()[0], 100)
            c.send(b"5\r\nhello\r\n")
            self.assertEqual(c.recv_for(0.1), b"")
            c.send(b"0\r\n\r\n")
            self.assertEqual(c.response()[::2], (200, HELLO))
            self.assertEqual(c.buf, b"")

    def test_expect_100_continue_ignored_for_http_1_0(self):
        """RFC 9110 §10.1.1: a 100-continue expectation in an HTTP/1.0 request MUST be ignored."""
        with self.conn() as c:
            c.send(b"GET /plaintext HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n")
            self.assertEqual(c.recv_for(0.3), b"", "interim response sent to an HTTP/1.0 client")
            c.send(b"abc")
            self.assertEqual(c.response()[::2], (200, HELLO))
            self.assertTrue(c.closed(3.0))

    def test_expect_100_continue_over_max_body_gets_413_not_100(self):
        with self.conn() as c:
            c.send(GET + HOST + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (MAX_BODY + 1))
            status, headers, _ = c.response()
            self.assertEqual(status, 413)
            self.assertEqual(headers.get("connection"), "close")
            self.assertTrue(c.closed(3.0))

    def test_request_line_414_before_line_ends(self):
        """An over-long request line is refused as soon as the limit is passed, not at its end."""
        with self.conn() as c:
            c.send(b"GET /" + b"a" * (MAX_REQUEST_LINE + 10))
            self.assertEqual(c.response()[0], 414)
            self.assertTrue(c.closed(3.0))

    def test_header_431_before_head_ends(self):
        with self.conn() as c:
            c.send(GET + HOST + b"X: " + b"v" * (MAX_HEADER_BYTES + 10))
            self.assertEqual(c.response()[0], 431)
            self.assertTrue(c.closed(3.0))


if __name__ == "__main__":
    rftest.main()
