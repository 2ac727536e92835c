"""Black-box static-file serving (--root): methods, HEAD, directories and index files, content
types, precompressed siblings, path traversal and symlinks, dotfiles, FIFOs, cache
revalidation, pipelining, the --index, --autoindex and --serve-dotfiles options, and the
start-up check of --root. Validators and conditional requests are in
test_static_conditionals.py, byte ranges in test_static_ranges.py, large files in
test_static_large_files.py; what they share is in static_helpers.py."""
import email.utils
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

import rftest
import static_helpers
from static_helpers import MTIME_NS, MTIME_S, HELLO, SMALL, SECRET, PASSWD_MARK, request, write


class StaticDefault(static_helpers.DefaultTree):
    """Default options: index.html, no autoindex, no dotfiles."""

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


class StaticIndexName(static_helpers.StaticCase):
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


class StaticAutoindex(static_helpers.StaticCase):
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


class StaticDotfilesServed(static_helpers.StaticCase):
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
