"""Black-box static-file serving (--root): methods, HEAD, directories and index files, content
types, validators, conditional requests (RFC 9110 §13), byte ranges (§14), precompressed
siblings, path traversal and symlinks, dotfiles, FIFOs, cache revalidation, large files,
pipelining, and the start-up check of --root."""
import concurrent.futures
import email.utils
import gzip
import hashlib
import os
import random
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time
import unittest

import rftest

# A known instant with a fractional part: Last-Modified must show the whole second.
MTIME_NS = 1_700_000_000_250_000_000
MTIME_S = MTIME_NS // 1_000_000_000
LAST_MODIFIED = email.utils.formatdate(MTIME_S, usegmt=True)  # Tue, 14 Nov 2023 22:13:20 GMT
BEFORE = email.utils.formatdate(MTIME_S - 3600, usegmt=True)
AFTER = email.utils.formatdate(MTIME_S + 3600, usegmt=True)

HELLO = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"  # 36 bytes, for ranges
SMALL = b"hello small\n"
SECRET = b"TOP-SECRET-" + os.urandom(8).hex().encode()
PASSWD_MARK = b"root:"  # the first line of /etc/passwd
ETAG_RX = re.compile(r'^"[\x21\x23-\x7e\x80-\xff]*"$')


def request(method, path, headers=(), body=b"", close=False):
    """Raw request bytes; `headers` is a sequence of (name, value)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: t"]
    lines += [f"{k}: {v}" for k, v in headers]
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def write(path, data, mtime_ns=MTIME_NS):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class StaticCase(unittest.TestCase):
    """One server per class over a fixture tree built in setUpClass."""
    server_args = ()

    @classmethod
    def build(cls, www):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="rf-static-")
        cls.base = cls.tmp.name
        cls.www = os.path.join(cls.base, "www")
        os.mkdir(cls.www)
        write(os.path.join(cls.base, "secret.txt"), SECRET)
        cls.build(cls.www)
        try:
            cls.server = rftest.Server("--root", cls.www, *cls.server_args, workers=2)
            cls.start_workers = sorted(rftest.wait_until(lambda: len(cls.server.workers()) == 2 and cls.server.workers(),
                                                         5, what="2 workers"))
        except BaseException:
            if getattr(cls, "server", None):
                cls.server.stop()
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()

    def conn(self, timeout=5.0):
        c = rftest.Conn(self.server.port, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def fetch(self, method, path, headers=(), body=b""):
        """(status, headers, body) over a fresh connection."""
        c = self.conn()
        c.send(request(method, path, headers, body))
        return c.response(head=(method == "HEAD"))

    def raw(self, path, method="GET", timeout=3.0):
        """All bytes the server sends for one Connection: close request (no client normalisation)."""
        s = self.server.connect()
        self.addCleanup(s.close)
        s.sendall(request(method, path, close=True))
        data, closed = rftest.recv_until_close(s, timeout=timeout)
        self.assertTrue(closed, f"{method} {path}: connection not closed within {timeout}s (got {data[:200]!r})")
        return data

    def io_descriptors(self, kinds=("socket", "pipe")):
        """Sockets and pipes (or only `kinds`) the workers hold; open files are the cache's business."""
        prefixes = tuple(k + ":" for k in kinds)
        n = 0
        for w in self.server.workers():
            for fd in os.listdir(f"/proc/{w}/fd"):
                try:
                    target = os.readlink(f"/proc/{w}/fd/{fd}")
                except OSError:
                    continue
                n += target.startswith(prefixes)
        return n

    def assert_multipart(self, h, body, data, ranges, ctype="text/plain; charset=utf-8"):
        """body is multipart/byteranges with exactly `ranges` of `data`, in that order."""
        m = re.fullmatch(r"multipart/byteranges; boundary=(\S+)", h.get("content-type", ""))
        self.assertTrue(m, h.get("content-type"))
        delim = b"--" + m.group(1).encode()
        self.assertEqual(h.get("content-length"), str(len(body)))
        self.assertNotIn("content-range", h)
        rest = body
        for i, (first, last) in enumerate(ranges):
            lead = (b"\r\n" if i else b"") + delim + b"\r\n"
            self.assertTrue(rest.startswith(lead), f"part {i}: {rest[:80]!r}")
            head, rest = rest[len(lead):].split(b"\r\n\r\n", 1)
            fields = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n"))
            self.assertEqual(fields, {"Content-Type": ctype, "Content-Range": f"bytes {first}-{last}/{len(data)}"})
            self.assertEqual(rest[:last - first + 1], data[first:last + 1], f"part {i} bytes")
            rest = rest[last - first + 1:]
        self.assertEqual(rest, b"\r\n" + delim + b"--\r\n")

    def assertSameWorkers(self):
        self.assertEqual(sorted(self.server.workers()), self.start_workers,
                         f"workers changed (a worker died?)\n{self.server.log()}")


class StaticDefault(StaticCase):
    """Default options: index.html, no autoindex, no dotfiles."""

    @classmethod
    def build(cls, www):
        j = lambda *p: os.path.join(www, *p)
        write(j("index.html"), b"<h1>root index</h1>\n")
        write(j("small.txt"), SMALL)
        write(j("hello.txt"), HELLO)
        write(j("page.html"), b"<p>page</p>\n")
        write(j("style.css"), b"body{color:red}\n")
        write(j("plain.js"), b"console.log('plain');\n")
        write(j("data.json"), b'{"a":1}\n')
        write(j("pic.svg"), b'<svg xmlns="http://www.w3.org/2000/svg"/>\n')
        write(j("img.png"), b"\x89PNG\r\n\x1a\n" + bytes(range(32)))
        write(j("IMG2.PNG"), b"\x89PNG\r\n\x1a\nupper")
        write(j("font.woff2"), b"wOF2" + bytes(16))
        write(j("blob.xyzunknown"), b"unknown-type")
        write(j("noext"), b"no extension")
        cls.app_js = b"function app() { return 'identity'; }\n" * 20
        cls.app_br = b"\x1b\x00BROTLI-FAKE-BYTES" + os.urandom(16)
        cls.app_gz = gzip.compress(cls.app_js, mtime=0)
        write(j("app.js"), cls.app_js)
        write(j("app.js.br"), cls.app_br)
        write(j("app.js.gz"), cls.app_gz)
        write(j("dir", "index.html"), b"<h1>dir index</h1>\n")
        write(j("dir", "page.txt"), b"dir page\n")
        write(j("dir", ".git", "config"), b"[core]\nsecret-git-config\n")
        write(j(".env"), b"API_KEY=dotenv-secret\n")
        write(j("noindex", "file.txt"), b"in noindex\n")
        cls.big1m = os.urandom(1 << 20)
        write(j("big1m.bin"), cls.big1m)
        write(j("mutable.txt"), b"version one\n")
        os.symlink("../secret.txt", j("link.txt"))           # relative, leads out of the root
        os.symlink("/etc/passwd", j("abs.txt"))               # absolute
        os.symlink("small.txt", j("inlink.txt"))              # stays inside
        os.symlink("dir", j("linkdir"))                       # directory inside
        os.symlink("..", j("updir"))                          # directory outside
        os.mkfifo(j("fifo"))

    # ---- methods and HEAD ----

    def test_get_file(self):
        status, h, body = self.fetch("GET", "/small.txt")
        self.assertEqual((status, body), (200, SMALL))
        self.assertEqual(h.get("content-type"), "text/plain; charset=utf-8")

    def test_other_methods_405(self):
        c = self.conn()
        for method in ("POST", "PUT", "DELETE"):
            with self.subTest(method=method):
                c.send(request(method, "/hello.txt", body=b"overwrite" if method != "DELETE" else b""))
                status, h, body = c.response()
                self.assertEqual(status, 405, f"{method} /hello.txt")
                self.assertEqual(h.get("allow"), "GET, HEAD")
        c.send(request("GET", "/hello.txt"))
        self.assertEqual(c.response()[:3:2], (200, HELLO))
        with open(os.path.join(self.www, "hello.txt"), "rb") as f:
            self.assertEqual(f.read(), HELLO)

    def test_head_same_headers_no_body(self):
        for path in ("/hello.txt", "/big1m.bin", "/app.js"):
            with self.subTest(path=path):
                c = self.conn()
                c.send(request("GET", path))
                gs, gh, gbody = c.response()
                c.send(request("HEAD", path) + request("GET", "/small.txt"))
                hs, hh, hbody = c.response(head=True)
                self.assertEqual((gs, hs), (200, 200))
                for name in ("content-length", "etag", "last-modified", "content-type", "accept-ranges", "vary"):
                    self.assertEqual(hh.get(name), gh.get(name), f"HEAD {path}: {name}")
                self.assertEqual(hh.get("content-length"), str(len(gbody)))
                # The next pipelined response starts right after the HEAD response's head.
                s2, h2, b2 = c.response()
                self.assertEqual((s2, b2), (200, SMALL), f"response after HEAD {path}")
                self.assertFalse(c.closed(0.2), "connection closed after HEAD")
                self.assertEqual(c.buf, b"", f"stray bytes after HEAD {path}")

    # ---- directories ----

    def test_root_index(self):
        status, h, body = self.fetch("GET", "/")
        self.assertEqual((status, body), (200, b"<h1>root index</h1>\n"))
        self.assertEqual(h.get("content-type"), "text/html; charset=utf-8")

    def test_dir_index(self):
        status, h, body = self.fetch("GET", "/dir/")
        self.assertEqual((status, body), (200, b"<h1>dir index</h1>\n"))

    def test_dir_without_slash_redirects(self):
        for target, location in (("/dir", "/dir/"), ("/dir?x=1", "/dir/?x=1"), ("/noindex", "/noindex/"),
                                 ("/dir?a=1&b=%20", "/dir/?a=1&b=%20")):
            with self.subTest(target=target):
                status, h, body = self.fetch("GET", target)
                self.assertEqual(status, 301, target)
                self.assertEqual(h.get("location"), location)

    def test_dir_without_index_404(self):
        status, h, body = self.fetch("GET", "/noindex/")
        self.assertEqual(status, 404)
        self.assertNotIn(b"file.txt", body)

    # ---- content types ----

    def test_content_types(self):
        cases = {
            "/page.html": "text/html; charset=utf-8",
            "/style.css": "text/css; charset=utf-8",
            "/data.json": "application/json",
            "/pic.svg": "image/svg+xml",
            "/img.png": "image/png",
            "/IMG2.PNG": "image/png",
            "/font.woff2": "font/woff2",
            "/blob.xyzunknown": "application/octet-stream",
            "/noext": "application/octet-stream",
        }
        c = self.conn()
        for path, want in cases.items():
            with self.subTest(path=path):
                c.send(request("GET", path))
                status, h, body = c.response()
                self.assertEqual(status, 200, path)
                ct = h.get("content-type", "")
                if want.startswith("text/") or "charset" in want:
                    self.assertEqual(ct, want, path)
                else:  # a charset parameter is optional for these
                    self.assertEqual(ct.split(";")[0].strip(), want, path)
        c.send(request("GET", "/plain.js"))
        ct = c.response()[1].get("content-type", "")
        self.assertIn(ct.split(";")[0].strip(), ("text/javascript", "application/javascript"), ct)

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

    def etag(self, path="/hello.txt"):
        status, h, _ = self.fetch("HEAD", path)
        self.assertEqual(status, 200)
        return h["etag"]

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

    # ---- precompressed siblings ----

    def test_precompressed_variants(self):
        c = self.conn()
        seen = {}
        cases = (("br", "br", self.app_br), ("gzip", "gzip", self.app_gz), ("br;q=0, gzip", "gzip", self.app_gz),
                 ("gzip, br", "br", self.app_br), (None, None, self.app_js), ("identity", None, self.app_js),
                 ("br;q=0, gzip;q=0", None, self.app_js))
        for accept, coding, data in cases:
            with self.subTest(accept=accept):
                c.send(request("GET", "/app.js", [("Accept-Encoding", accept)] if accept is not None else []))
                status, h, body = c.response()
                self.assertEqual(status, 200)
                self.assertEqual(body, data, f"Accept-Encoding: {accept}")
                self.assertEqual(h.get("content-encoding"), coding)
                self.assertEqual(h.get("content-length"), str(len(data)))
                self.assertIn("accept-encoding", h.get("vary", "").lower())
                self.assertEqual(h.get("content-type", "").split(";")[0], "text/javascript")
                seen.setdefault(coding, set()).add(h.get("etag"))
        for coding, etags in seen.items():
            self.assertEqual(len(etags), 1, f"{coding}: unstable ETag {etags}")
        all_etags = [next(iter(e)) for e in seen.values()]
        self.assertEqual(len(set(all_etags)), 3, f"variants share ETags: {seen}")

    def test_precompressed_conditional_per_variant(self):
        c = self.conn()
        c.send(request("GET", "/app.js", [("Accept-Encoding", "gzip")]))
        gz_etag = c.response()[1]["etag"]
        c.send(request("GET", "/app.js", [("Accept-Encoding", "gzip"), ("If-None-Match", gz_etag)]))
        self.assertEqual(c.response()[0], 304)
        # The gzip variant's tag does not validate the identity one.
        c.send(request("GET", "/app.js", [("If-None-Match", gz_etag)]))
        status, h, body = c.response()
        self.assertEqual((status, body), (200, self.app_js))

    def test_no_vary_without_siblings(self):
        for path in ("/plain.js", "/style.css"):
            status, h, body = self.fetch("GET", path, [("Accept-Encoding", "br, gzip")])
            self.assertEqual(status, 200)
            self.assertNotIn("vary", h, path)
            self.assertNotIn("content-encoding", h, path)

    # ---- traversal and symlinks ----

    def assert_refused(self, target, allowed=(400, 404)):
        data = self.raw(target)
        self.assertNotIn(SECRET, data, f"GET {target} leaked the secret")
        self.assertNotIn(PASSWD_MARK, data, f"GET {target} leaked /etc/passwd")
        m = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
        self.assertTrue(m, f"GET {target}: no status line in {data[:100]!r}")
        self.assertIn(int(m.group(1)), allowed, f"GET {target}: {data[:200]!r}")
        return int(m.group(1))

    def test_traversal(self):
        for target in ("/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt",
                       "/dir/../../secret.txt", "/dir/%2e%2e/%2e%2e/secret.txt", "/./../secret.txt",
                       "//etc/passwd", "/%2fetc/passwd", "/../../../../../../etc/passwd", "/updir/secret.txt",
                       "/updir/www/../secret.txt"):
            with self.subTest(target=target):
                self.assert_refused(target)

    def test_literal_and_backslash_paths_404(self):
        for target in ("/%252e%252e/secret.txt", "/%252e%252e%252fsecret.txt", "/..\\secret.txt",
                       "/%5c..%5csecret.txt", "/dir%5c..%5c..%5csecret.txt"):
            with self.subTest(target=target):
                self.assert_refused(target, allowed=(404,))

    def test_encoded_nul_400(self):
        self.assert_refused("/a%00b", allowed=(400,))
        self.assert_refused("/small.txt%00.html", allowed=(400,))

    def test_symlinks_out_of_root_404(self):
        for target in ("/link.txt", "/abs.txt"):
            with self.subTest(target=target):
                self.assert_refused(target, allowed=(404,))

    def test_symlinks_inside_root(self):
        status, h, body = self.fetch("GET", "/inlink.txt")
        self.assertEqual((status, body), (200, SMALL))
        status, h, body = self.fetch("GET", "/linkdir/")
        self.assertEqual((status, body), (200, b"<h1>dir index</h1>\n"))
        status, h, body = self.fetch("GET", "/linkdir/page.txt")
        self.assertEqual((status, body), (200, b"dir page\n"))

    # ---- dotfiles ----

    def test_dotfiles_404(self):
        for target in ("/.env", "/dir/.git/config", "/%2eenv", "/dir/%2egit/config"):
            with self.subTest(target=target):
                data = self.raw(target)
                self.assertRegex(data, rb"^HTTP/1\.1 404 ", target)
                self.assertNotIn(b"dotenv-secret", data)
                self.assertNotIn(b"secret-git-config", data)

    # ---- special files ----

    def test_fifo_refused_quickly(self):
        start = time.monotonic()
        c = self.conn(timeout=2.0)
        c.send(request("GET", "/fifo"))
        status, h, body = c.response()
        self.assertIn(status, (403, 404))
        self.assertLess(time.monotonic() - start, 1.0)
        c.send(request("GET", "/small.txt"))
        self.assertEqual(c.response()[::2], (200, SMALL))
        for _ in range(4):  # both workers still answer
            self.assertEqual(self.fetch("GET", "/small.txt")[::2], (200, SMALL))

    # ---- revalidation ----

    def test_changed_file_visible(self):
        path = os.path.join(self.www, "mutable.txt")
        status, h, body = self.fetch("GET", "/mutable.txt")
        self.assertEqual((status, body), (200, b"version one\n"))
        old_etag = h["etag"]
        new = b"version two, rather longer than before\n"
        with open(path, "wb") as f:  # rewritten in place: same inode
            f.write(new)
        os.utime(path, ns=(MTIME_NS + 10**9 * 60, MTIME_NS + 10**9 * 60))
        changed_at = time.monotonic()

        def fresh():
            s, hh, b = self.fetch("GET", "/mutable.txt")
            return (s, b, hh.get("content-length")) == (200, new, str(len(new))) and hh
        # Each worker has its own cache, revalidated at most once a second: once a second has
        # passed, every worker's next request sees the change, whichever worker answers.
        rftest.wait_until(lambda: time.monotonic() - changed_at > 1.1 and all(fresh() for _ in range(6)), 5.0,
                          interval=0.05, what="new content of mutable.txt from every worker")
        elapsed = time.monotonic() - changed_at
        hh = fresh()
        self.assertTrue(hh)
        self.assertNotEqual(hh.get("etag"), old_etag)
        self.assertEqual(hh.get("last-modified"), email.utils.formatdate(MTIME_S + 60, usegmt=True))
        self.assertLess(elapsed, 3.0, "the change took long to become visible")

    # ---- pipelining ----

    def test_pipelined_mixed(self):
        files = {"/small.txt": SMALL, "/hello.txt": HELLO, "/big1m.bin": self.big1m, "/app.js": self.app_js,
                 "/dir/page.txt": b"dir page\n", "/": b"<h1>root index</h1>\n"}
        order = ["/small.txt", "/hello.txt", "/big1m.bin", "/small.txt", "/app.js", "/dir/page.txt", "/",
                 "/hello.txt", "/small.txt", "/app.js"]
        c = self.conn(timeout=10.0)
        c.send(b"".join(request("GET", p) for p in order))
        for i, p in enumerate(order):
            status, h, body = c.response()
            self.assertEqual(status, 200, f"response {i} ({p})")
            self.assertEqual(len(body), len(files[p]), f"response {i} ({p})")
            self.assertTrue(body == files[p], f"response {i} ({p}): wrong body")
        self.assertFalse(c.closed(0.2))
        self.assertEqual(c.buf, b"")

    # ---- last: nothing crashed ----

    def test_zz_same_workers(self):
        self.assertEqual(self.fetch("GET", "/small.txt")[::2], (200, SMALL))
        self.assertSameWorkers()


class StaticIndexName(StaticCase):
    server_args = ("--index", "home.htm")

    @classmethod
    def build(cls, www):
        write(os.path.join(www, "home.htm"), b"<h1>home</h1>\n")
        write(os.path.join(www, "index.html"), b"<h1>index.html</h1>\n")
        write(os.path.join(www, "sub", "home.htm"), b"<h1>sub home</h1>\n")
        write(os.path.join(www, "only", "index.html"), b"<h1>only index.html</h1>\n")

    def test_index_option(self):
        status, h, body = self.fetch("GET", "/")
        self.assertEqual((status, body), (200, b"<h1>home</h1>\n"))
        self.assertEqual(h.get("content-type"), "text/html; charset=utf-8")
        status, h, body = self.fetch("GET", "/sub/")
        self.assertEqual((status, body), (200, b"<h1>sub home</h1>\n"))

    def test_default_index_not_used(self):
        status, h, body = self.fetch("GET", "/only/")
        self.assertEqual(status, 404)
        self.assertNotIn(b"only index.html", body)
        # Still reachable by its own name.
        self.assertEqual(self.fetch("GET", "/only/index.html")[::2], (200, b"<h1>only index.html</h1>\n"))

    def test_zz_same_workers(self):
        self.assertSameWorkers()


class StaticAutoindex(StaticCase):
    server_args = ("--autoindex",)

    @classmethod
    def build(cls, www):
        write(os.path.join(www, "list", "a&b.txt"), b"amp")
        write(os.path.join(www, "list", "<tag>.txt"), b"tag")
        write(os.path.join(www, "list", "plain-name.txt"), b"plain")
        write(os.path.join(www, "list", ".hidden-file"), b"hidden")
        os.makedirs(os.path.join(www, "list", "subdir"))
        os.makedirs(os.path.join(www, "list", ".hidden-dir"))
        write(os.path.join(www, "withindex", "index.html"), b"<h1>has index</h1>\n")
        write(os.path.join(www, "withindex", "other.txt"), b"other")

    def test_listing(self):
        status, h, body = self.fetch("GET", "/list/")
        self.assertEqual(status, 200)
        self.assertEqual(h.get("content-type"), "text/html; charset=utf-8")
        self.assertEqual(h.get("content-length"), str(len(body)))
        self.assertIn(b"plain-name.txt", body)
        self.assertIn(b"a&amp;b.txt", body)
        self.assertNotIn(b"a&b.txt", body, "unescaped & in the listing")
        self.assertIn(b"&lt;tag&gt;.txt", body)
        self.assertNotIn(b"<tag>", body, "unescaped < > in the listing")
        self.assertIn(b"subdir", body)
        self.assertNotIn(b".hidden-file", body)
        self.assertNotIn(b".hidden-dir", body)

    def test_listed_files_served(self):
        self.assertEqual(self.fetch("GET", "/list/a%26b.txt")[::2], (200, b"amp"))
        self.assertEqual(self.fetch("GET", "/list/%3Ctag%3E.txt")[::2], (200, b"tag"))

    def test_index_wins_over_listing(self):
        status, h, body = self.fetch("GET", "/withindex/")
        self.assertEqual((status, body), (200, b"<h1>has index</h1>\n"))

    def test_listing_needs_slash(self):
        status, h, body = self.fetch("GET", "/list")
        self.assertEqual((status, h.get("location")), (301, "/list/"))

    def test_root_listing(self):
        status, h, body = self.fetch("GET", "/")
        self.assertEqual(status, 200)
        self.assertIn(b"list", body)
        self.assertIn(b"withindex", body)

    def test_zz_same_workers(self):
        self.assertSameWorkers()


class StaticDotfilesServed(StaticCase):
    server_args = ("--serve-dotfiles",)

    @classmethod
    def build(cls, www):
        write(os.path.join(www, ".env"), b"API_KEY=dotenv\n")
        write(os.path.join(www, "dir", ".git", "config"), b"[core]\n")

    def test_dotfiles_served(self):
        self.assertEqual(self.fetch("GET", "/.env")[::2], (200, b"API_KEY=dotenv\n"))
        self.assertEqual(self.fetch("GET", "/dir/.git/config")[::2], (200, b"[core]\n"))

    def test_traversal_still_refused(self):
        for target in ("/../secret.txt", "/%2e%2e/secret.txt", "/..%2fsecret.txt"):
            with self.subTest(target=target):
                data = self.raw(target)
                self.assertNotIn(SECRET, data)
                self.assertRegex(data, rb"^HTTP/1\.1 (400|404) ")

    def test_zz_same_workers(self):
        self.assertSameWorkers()


class StaticLargeFile(StaticCase):
    SIZE = 200 << 20

    @classmethod
    def build(cls, www):
        h = hashlib.sha256()
        with open(os.path.join(www, "big.bin"), "wb") as f:
            for _ in range(cls.SIZE >> 20):
                chunk = os.urandom(1 << 20)
                h.update(chunk)
                f.write(chunk)
        cls.digest = h.hexdigest()
        write(os.path.join(www, "small.txt"), SMALL)

    def url(self, path):
        return f"http://127.0.0.1:{self.server.port}{path}"

    def out(self, name):
        path = os.path.join(self.base, name)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        return path

    def curl(self, *args, timeout=20):
        p = subprocess.run([rftest.program("curl"), "-s", "-S", "-w", "%{http_code}", *args], capture_output=True, text=True,
                           timeout=timeout)
        self.assertEqual(p.returncode, 0, p.stderr)
        return int(p.stdout.strip()[-3:])

    def start_curls(self, argvs):
        """One background `curl -s` per argument list, killed at cleanup if still running."""
        procs = [subprocess.Popen([rftest.program("curl"), "-s", *argv]) for argv in argvs]

        def stop():
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.wait()
        self.addCleanup(stop)
        return procs

    def test_download_whole(self):
        out = self.out("whole.bin")
        self.assertEqual(self.curl("-o", out, self.url("/big.bin")), 200)
        self.assertEqual(os.path.getsize(out), self.SIZE)
        self.assertEqual(sha256_file(out), self.digest)

    def test_download_rate_limited(self):
        out = self.out("limited.bin")
        self.assertEqual(self.curl("--limit-rate", "100M", "-o", out, self.url("/big.bin")), 200)
        self.assertEqual(os.path.getsize(out), self.SIZE)
        self.assertEqual(sha256_file(out), self.digest)

    def test_range_middle(self):
        out = self.out("middle.bin")
        first = self.SIZE // 2 - (5 << 20)
        last = first + (10 << 20) - 1
        self.assertEqual(self.curl("-r", f"{first}-{last}", "-o", out, self.url("/big.bin")), 206)
        with open(os.path.join(self.www, "big.bin"), "rb") as f:
            f.seek(first)
            want = hashlib.sha256(f.read(last - first + 1)).hexdigest()
        self.assertEqual(os.path.getsize(out), last - first + 1)
        self.assertEqual(sha256_file(out), want)

    def test_multiple_large_ranges(self):
        ranges = [(0, (1 << 20) - 1), (100 << 20, (110 << 20) - 1), (self.SIZE - 100, self.SIZE - 1)]
        spec = "bytes=" + ",".join(f"{a}-{b}" for a, b in reversed(ranges))
        c = self.conn(timeout=20)
        c.send(request("GET", "/big.bin", [("Range", spec)]))
        status, h, body = c.response()
        self.assertEqual(status, 206)
        with open(os.path.join(self.www, "big.bin"), "rb") as f:
            data = bytearray(self.SIZE)  # only the requested spans are filled and compared
            for first, last in ranges:
                f.seek(first)
                data[first:last + 1] = f.read(last - first + 1)
        self.assert_multipart(h, body, bytes(data), ranges, "application/octet-stream")

    def test_concurrent_downloads_do_not_block(self):
        outs = [self.out(f"conc{i}.bin") for i in range(2)]
        procs = self.start_curls([["--limit-rate", "60M", "-o", o, self.url("/big.bin")] for o in outs])
        rftest.wait_until(lambda: all(os.path.exists(o) and os.path.getsize(o) > (8 << 20) for o in outs),
                          10, what="both downloads under way")
        for _ in range(3):
            start = time.monotonic()
            status, h, body = self.fetch("GET", "/small.txt")
            took = time.monotonic() - start
            self.assertEqual((status, body), (200, SMALL))
            self.assertLess(took, 1.0, "a small GET waited behind the large downloads")
        self.assertTrue(all(p.poll() is None for p in procs), "downloads ended before the small GETs (not concurrent)")
        for p in procs:
            self.assertEqual(p.wait(20), 0)
        for o in outs:
            self.assertEqual(sha256_file(o), self.digest)

    def test_aborted_downloads_leave_no_descriptors(self):
        # Bodies this large are spliced through a pipe per connection; a client that leaves
        # mid-body must not leave its pipe (or its socket) open in the worker.
        fds = self.io_descriptors

        def abort_one(linger_reset):
            s = self.server.connect()
            try:
                s.sendall(request("GET", "/big.bin"))
                got = 0
                while got < (256 << 10):
                    chunk = s.recv(65536)
                    self.assertTrue(chunk, "server closed before sending 256 KiB")
                    got += len(chunk)
                if linger_reset:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            finally:
                s.close()

        abort_one(False)  # a pipe may now sit in a worker's pool; that is the baseline
        rftest.wait_until(lambda: self.fetch("GET", "/small.txt")[2] == SMALL, 5, what="server answering")
        before = fds()
        for i in range(12):
            abort_one(i % 2 == 1)
        # Each worker keeps at most one more empty pipe than before (these ran one at a time).
        rftest.wait_until(lambda: fds() <= before + 2 * len(self.start_workers), 5,
                          what=f"worker descriptors back near {before} (now {fds()})")
        status, _, body = self.fetch("GET", "/small.txt")
        self.assertEqual((status, body), (200, SMALL))

    def test_cold_file_threads_bounded(self):
        # With the file's pages dropped from the page cache, each splice waits for the disk
        # on one of the ring's kernel threads; 48 concurrent ranges must all arrive intact
        # and queue for at most 4 + 16 threads per worker, not start one thread each (on a
        # fast disk few are ever needed at once).
        path = os.path.join(self.www, "big.bin")
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
        span = 4 << 20
        outs = [self.out(f"cold{i}.bin") for i in range(48)]
        procs = self.start_curls([["-r", f"{i * span}-{(i + 1) * span - 1}", "-o", o, self.url("/big.bin")]
                                  for i, o in enumerate(outs)])
        most = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(p.poll() is None for p in procs):
            for w in self.server.workers():
                try:
                    most = max(most, len(os.listdir(f"/proc/{w}/task")))
                except FileNotFoundError:
                    pass
            time.sleep(0.005)
        self.assertTrue(all(p.poll() == 0 for p in procs), "not every ranged download finished")
        self.assertLessEqual(most, 1 + 4 + 16, "threads in one worker while serving a cold file")
        with open(path, "rb") as f:
            for i, o in enumerate(outs):
                f.seek(i * span)
                self.assertEqual(sha256_file(o), hashlib.sha256(f.read(span)).hexdigest())
        print(f"\n  most threads in one worker: {most}", flush=True)

    def test_random_ranges_pipelining_and_aborts(self):
        # 120 clients, 16 at a time: pipelined whole-file, multipart and small requests,
        # each reading a random amount, then closing or resetting. The workers must stay up
        # and end with no socket or pipe left behind (a sanitizer build checks the rest).
        def sockets():
            return self.io_descriptors(("socket",))

        sockets_before = sockets()

        def client(seed):
            r = random.Random(seed)
            reqs = b""
            for _ in range(r.randint(1, 3)):
                kind = r.random()
                if kind < 0.4:
                    specs = []
                    for _ in range(r.randint(1, 8)):
                        a = r.randrange(self.SIZE)
                        specs.append(f"{a}-{min(self.SIZE - 1, a + r.choice([0, 10, 70000, 300000]))}")
                    reqs += request("GET", "/big.bin", [("Range", "bytes=" + ",".join(specs))])
                elif kind < 0.7:
                    reqs += request("GET", "/big.bin")
                else:
                    reqs += request("GET", "/small.txt")
            s = self.server.connect()
            try:
                s.settimeout(2)
                s.sendall(reqs)
                want, got = r.choice([0, 1000, 100000, 4 << 20]), 0
                deadline = time.monotonic() + 5
                while got < want and time.monotonic() < deadline:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    got += len(chunk)
                if r.random() < 0.5:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass  # a reset from our own abort of an earlier client is no finding
            finally:
                s.close()

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            list(pool.map(client, range(120)))
        rftest.wait_until(lambda: sockets() <= sockets_before, 10,
                          what=f"every client connection closed (sockets {sockets()} vs {sockets_before})")
        # Only empty pipes kept for reuse remain: at most 64 per worker, two descriptors each.
        self.assertLessEqual(self.io_descriptors(("pipe",)), 2 * 64 * len(self.start_workers))
        status, _, body = self.fetch("GET", "/small.txt")
        self.assertEqual((status, body), (200, SMALL))
        self.assertSameWorkers()

    def test_file_truncated_mid_body(self):
        # The length was promised in the head; when the file shrinks under a transfer the
        # worker must end that connection (short body), log it, and go on serving.
        path = os.path.join(self.www, "shrinks.bin")
        write(path, os.urandom(64 << 20))
        s = self.server.connect()
        self.addCleanup(s.close)
        s.sendall(request("GET", "/shrinks.bin"))
        s.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "closed before the head")
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertIn(b"Content-Length: 67108864", head)
        with open(path, "r+b") as f:
            f.truncate(1 << 20)
        got = len(body)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            got += len(chunk)
        else:
            self.fail("connection not ended after the file shrank")
        self.assertLess(got, 64 << 20)
        self.server.wait_log(r"(splice|read).*static file", 5)
        status, _, body = self.fetch("GET", "/small.txt")
        self.assertEqual((status, body), (200, SMALL))

    def test_zz_same_workers(self):
        self.assertSameWorkers()


class StaticStalledReader(StaticCase):
    """A client that asks for a large file and never reads is cut off by --send-timeout."""
    server_args = ("--send-timeout", "2")
    SIZE = 64 << 20

    @classmethod
    def build(cls, www):
        write(os.path.join(www, "big.bin"), os.urandom(cls.SIZE))
        write(os.path.join(www, "small.txt"), SMALL)

    def test_stalled_reader_closed_and_released(self):
        fds = self.io_descriptors

        before = fds()
        s = socket.socket()
        self.addCleanup(s.close)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
        s.connect(("127.0.0.1", self.server.port))
        s.sendall(request("GET", "/big.bin"))
        # While the body is under way the worker holds the socket and a pipe.
        rftest.wait_until(lambda: fds() >= before + 1, 5, what="connection open in a worker")
        rftest.wait_until(lambda: fds() <= before, 10, what=f"stalled connection closed (fds {fds()} vs {before})")
        got = 0
        s.settimeout(5)
        try:
            while got <= self.SIZE:
                chunk = s.recv(1 << 20)
                if not chunk:
                    break
                got += len(chunk)
        except ConnectionResetError:
            pass
        self.assertLess(got, self.SIZE)
        status, _, body = self.fetch("GET", "/small.txt")
        self.assertEqual((status, body), (200, SMALL))

    def test_zz_same_workers(self):
        self.assertSameWorkers()


class StaticRootCheck(unittest.TestCase):
    def run_ringfork(self, root):
        p = subprocess.Popen([rftest.BIN, "--listen", "127.0.0.1:0", "--workers", "1", "--root", root],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = p.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            out, _ = p.communicate()
            self.fail(f"ringfork --root {root} still running after 5 s:\n{out}")
        return p.returncode, out

    def test_nonexistent_root(self):
        root = "/nonexistent/rf-static-root"
        start = time.monotonic()
        rc, out = self.run_ringfork(root)
        self.assertLess(time.monotonic() - start, 3.0)
        self.assertNotEqual(rc, 0, out)
        lines = [line for line in out.splitlines() if root in line]
        self.assertEqual(len(lines), 1, out)
        self.assertIn("No such file or directory", lines[0])
        self.assertNotIn("ready", out)

    def test_root_is_a_file(self):
        with tempfile.NamedTemporaryFile() as f:
            rc, out = self.run_ringfork(f.name)
        self.assertNotEqual(rc, 0, out)
        lines = [line for line in out.splitlines() if f.name in line]
        self.assertEqual(len(lines), 1, out)
        self.assertIn("Not a directory", lines[0])


if __name__ == "__main__":
    rftest.main()
