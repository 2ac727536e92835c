"""Black-box static files: validators (Content-Length, a strong ETag, Last-Modified in whole
seconds, Accept-Ranges) and conditional requests (RFC 9110 §13): If-None-Match,
If-Modified-Since, If-Match, If-Unmodified-Since, their precedence and invalid dates, each
followed on the same connection by a plain GET that must parse."""
import rftest
import static_helpers
from static_helpers import AFTER, BEFORE, ETAG_RX, HELLO, LAST_MODIFIED, SMALL, request


class StaticConditionals(static_helpers.DefaultTree):
    """Default options over the default tree."""

    # ---- validators ----

    def test_validators(self):
        c = self.conn()
        for path, data in (("/hello.txt", HELLO), ("/small.txt", SMALL), ("/big1m.bin", self.big1m)):
            with self.subTest(path=path):
                c.send(request("GET", path))
                status, h, body = c.response()
                self.assertEqual(status, 200)
                self.assertEqual(body, data)
                self.assertEqual(h.get("content-length"), str(len(data)))
                self.assertEqual(h.get("last-modified"), LAST_MODIFIED)
                self.assertEqual(h.get("accept-ranges"), "bytes")
                etag = h.get("etag", "")
                self.assertRegex(etag, ETAG_RX, "strong, quoted ETag")
                self.assertFalse(etag.startswith("W/"))

    # ---- conditional requests ----

    def cond(self, headers, method="GET", path="/hello.txt"):
        """Sends a conditional request and a plain GET pipelined; checks the second one parses."""
        c = self.conn()
        c.send(request(method, path, headers) + request("GET", "/small.txt"))
        first = c.response(head=(method == "HEAD"))
        second = c.response()
        self.assertEqual((second[0], second[2]), (200, SMALL), f"response after {method} {path} {headers}")
        self.assertFalse(c.closed(0.1))
        self.assertEqual(c.buf, b"", f"stray bytes after {method} {path} {headers}")
        return first

    def assert_304(self, headers, etag, method="GET"):
        status, h, body = self.cond(headers, method)
        self.assertEqual(status, 304, f"{method} {headers}")
        self.assertEqual(body, b"")
        self.assertEqual(h.get("etag"), etag)
        self.assertNotIn("content-length", h, "a 304 with Content-Length")
        self.assertNotIn("transfer-encoding", h)

    def test_if_none_match(self):
        etag = self.etag()
        self.assert_304([("If-None-Match", etag)], etag)
        self.assert_304([("If-None-Match", etag)], etag, method="HEAD")
        self.assert_304([("If-None-Match", "*")], etag)
        self.assert_304([("If-None-Match", f'"other", {etag}')], etag)
        self.assert_304([("If-None-Match", "W/" + etag)], etag)  # weak comparison (§13.1.2)
        status, h, body = self.cond([("If-None-Match", '"not-the-etag"')])
        self.assertEqual((status, body), (200, HELLO))

    def test_if_modified_since(self):
        etag = self.etag()
        self.assert_304([("If-Modified-Since", LAST_MODIFIED)], etag)
        self.assert_304([("If-Modified-Since", AFTER)], etag)
        status, h, body = self.cond([("If-Modified-Since", BEFORE)])
        self.assertEqual((status, body), (200, HELLO))
        # If-None-Match present: If-Modified-Since is ignored (§13.1.3).
        status, h, body = self.cond([("If-None-Match", '"not-the-etag"'), ("If-Modified-Since", AFTER)])
        self.assertEqual((status, body), (200, HELLO))

    def test_if_match(self):
        etag = self.etag()
        status, h, body = self.cond([("If-Match", '"not-the-etag"')])
        self.assertEqual(status, 412)
        self.assertNotIn(HELLO, body)
        for value in ("*", etag, f'"x", {etag}'):
            with self.subTest(value=value):
                status, h, body = self.cond([("If-Match", value)])
                self.assertEqual((status, body), (200, HELLO))
        # If-Match uses the strong comparison: a weak tag never matches.
        self.assertEqual(self.cond([("If-Match", "W/" + etag)])[0], 412)

    def test_if_unmodified_since(self):
        status, h, body = self.cond([("If-Unmodified-Since", BEFORE)])
        self.assertEqual(status, 412)
        self.assertNotIn(HELLO, body)
        for value in (LAST_MODIFIED, AFTER):
            status, h, body = self.cond([("If-Unmodified-Since", value)])
            self.assertEqual((status, body), (200, HELLO), value)

    def test_invalid_dates_ignored(self):
        for name in ("If-Modified-Since", "If-Unmodified-Since"):
            for value in ("garbage", "Tue, 14 Nov 2023 25:99:99 GMT", "1700000000", "Tue, 32 Nov 2023 22:13:20 GMT"):
                with self.subTest(name=name, value=value):
                    status, h, body = self.cond([(name, value)])
                    self.assertEqual((status, body), (200, HELLO))

    # ---- last: nothing crashed ----

    def test_zz_same_workers(self):
        self.assertEqual(self.fetch("GET", "/small.txt")[::2], (200, SMALL))
        self.assertSameWorkers()


if __name__ == "__main__":
    rftest.main()
