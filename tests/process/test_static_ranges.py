"""Black-box static files: byte ranges (RFC 9110 §14): single and suffix ranges, unsatisfiable
ones, overlapping ranges merged, multipart/byteranges bodies (pipelined, with parts above
the splice threshold, up to 64 parts), ranges ignored when invalid, If-Range, and a bound on
the work many overlapping ranges cost."""
import time

import rftest
import static_helpers
from static_helpers import HELLO, SMALL, request


class StaticRanges(static_helpers.DefaultTree):
    """Default options over the default tree."""

    # ---- ranges ----

    def range_get(self, spec, extra=()):
        return self.fetch("GET", "/hello.txt", [("Range", spec), *extra])

    def assert_206(self, spec, first, last, extra=()):
        status, h, body = self.range_get(spec, extra)
        size = len(HELLO)
        self.assertEqual(status, 206, f"Range: {spec}")
        self.assertEqual(h.get("content-range"), f"bytes {first}-{last}/{size}", spec)
        self.assertEqual(body, HELLO[first:last + 1], spec)
        self.assertEqual(h.get("content-length"), str(last - first + 1), spec)

    def assert_full(self, spec, extra=()):
        status, h, body = self.range_get(spec, extra)
        self.assertEqual((status, body), (200, HELLO), f"Range: {spec}")
        self.assertNotIn("content-range", h)

    def test_ranges(self):
        n = len(HELLO)
        self.assert_206("bytes=0-4", 0, 4)
        self.assert_206("bytes=-3", n - 3, n - 1)
        self.assert_206("bytes=5-", 5, n - 1)
        self.assert_206("bytes=30-1000", 30, n - 1)
        self.assert_206("bytes=-1000", 0, n - 1)
        self.assert_206(f"bytes={n - 1}-{n - 1}", n - 1, n - 1)

    def test_range_unsatisfiable(self):
        n = len(HELLO)
        for spec in (f"bytes={n}-", f"bytes={n + 10}-{n + 20}"):
            with self.subTest(spec=spec):
                status, h, body = self.range_get(spec)
                self.assertEqual(status, 416)
                self.assertEqual(h.get("content-range"), f"bytes */{n}")
                self.assertNotIn(HELLO, body)

    def test_multiple_ranges(self):
        self.assert_206("bytes=0-5,3-9", 0, 9)          # overlapping: one range
        self.assert_206("bytes=10-12,0-11", 0, 12)      # overlapping, out of order
        for _ in range(2):  # the first read fills the cache; the second is served from memory
            status, h, body = self.range_get("bytes=0-1,5-6")
            self.assertEqual(status, 206)
            self.assert_multipart(h, body, HELLO, [(0, 1), (5, 6)])
        status, h, body = self.range_get("bytes=-2,0-0,4-6")  # disjoint, out of order: ascending parts
        self.assertEqual(status, 206)
        self.assert_multipart(h, body, HELLO, [(0, 0), (4, 6), (len(HELLO) - 2, len(HELLO) - 1)])
        self.assertEqual(h.get("etag"), self.etag())

    def test_multiple_ranges_pipelined_and_head(self):
        # Range is defined for GET only (RFC 9110 §14.2): HEAD ignores it.
        status, h, _ = self.fetch("HEAD", "/hello.txt", [("Range", "bytes=0-2,8-9")])
        self.assertEqual((status, h.get("content-length")), (200, str(len(HELLO))))
        self.assertNotIn("multipart", h.get("content-type"))
        c = self.conn()
        c.send(request("GET", "/big1m.bin", [("Range", "bytes=0-9,500000-500009")]) + request("GET", "/small.txt"))
        status, h, body = c.response()
        self.assertEqual(status, 206)
        self.assert_multipart(h, body, self.big1m, [(0, 9), (500000, 500009)], "application/octet-stream")
        self.assertEqual(c.response()[::2], (200, SMALL))

    def test_multiple_ranges_large_parts(self):
        # Parts below and above the splice threshold, in one body, twice on one connection.
        n = len(self.big1m)
        ranges = [(0, 99), (100000, 299999), (n - 576, n - 1)]
        spec = "bytes=" + ",".join(f"{a}-{b}" for a, b in ranges)
        c = self.conn(timeout=10)
        for _ in range(2):
            c.send(request("GET", "/big1m.bin", [("Range", spec)]))
            status, h, body = c.response()
            self.assertEqual(status, 206)
            self.assert_multipart(h, body, self.big1m, ranges, "application/octet-stream")

    def test_sixty_four_parts(self):
        ranges = [(i * 1000, i * 1000 + 1) for i in range(64)]
        spec = "bytes=" + ",".join(f"{a}-{b}" for a, b in ranges)
        status, h, body = self.fetch("GET", "/big1m.bin", [("Range", spec)])
        self.assertEqual(status, 206)
        self.assert_multipart(h, body, self.big1m, ranges, "application/octet-stream")
        status, h, body = self.fetch("GET", "/big1m.bin", [("Range", spec + ",70000-70001")])
        self.assertEqual((status, len(body)), (200, len(self.big1m)))  # more than 64: the whole file

    def test_invalid_range_ignored(self):
        for spec in ("bytes=abc", "bytes=5-2", "items=0-4", "bytes=", "bytes=0-4;x"):
            with self.subTest(spec=spec):
                self.assert_full(spec)

    def test_if_range(self):
        etag = self.etag()
        self.assert_206("bytes=0-4", 0, 4, [("If-Range", etag)])
        self.assert_full("bytes=0-4", [("If-Range", '"another-etag"')])
        self.assert_full("bytes=0-4", [("If-Range", "W/" + etag)])

    def test_many_overlapping_ranges_bounded(self):
        spec = "bytes=" + ",".join(["0-1"] * 100)
        start = time.monotonic()
        status, h, body = self.range_get(spec)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 1.0, "100 ranges took too long")
        self.assertIn(status, (200, 206))
        if status == 206:
            self.assertEqual((h.get("content-range"), body), (f"bytes 0-1/{len(HELLO)}", HELLO[:2]))
        else:
            self.assertEqual(body, HELLO)

    # ---- last: nothing crashed ----

    def test_zz_same_workers(self):
        self.assertEqual(self.fetch("GET", "/small.txt")[::2], (200, SMALL))
        self.assertSameWorkers()


if __name__ == "__main__":
    rftest.main()
