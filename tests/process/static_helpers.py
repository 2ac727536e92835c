"""What the static-file process tests share: the fixture constants, raw request bytes, and
a test case class that starts one server per class over a tree it builds (StaticCase; the
default tree of files, links and a FIFO in DefaultTree). TreeServerCase is the part any
test of files under a root shares: a temporary directory, a tree in it, a server on it."""
import email.utils
import gzip
import hashlib
import os
import re
import tempfile
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


class TreeServerCase(unittest.TestCase):
    """One server per class over a tree in a temporary directory: `base` is the directory,
    `www` the root in it. make_tree() fills it, then start_server() sets `server`; the
    server stops and the directory goes when the class is done (or its start failed)."""
    tmp_prefix = "rf-tree-"

    @classmethod
    def make_tree(cls):
        raise NotImplementedError

    @classmethod
    def start_server(cls):
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix=cls.tmp_prefix)
        cls.base = cls.tmp.name
        cls.www = os.path.join(cls.base, "www")
        os.mkdir(cls.www)
        cls.make_tree()
        try:
            cls.start_server()
        except BaseException:
            if getattr(cls, "server", None):
                cls.server.stop()
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()


class StaticCase(TreeServerCase):
    """One server (two workers) per class over a fixture tree built in build(), with a secret
    beside the root that no request may reach."""
    server_args = ()
    tmp_prefix = "rf-static-"

    @classmethod
    def build(cls, www):
        raise NotImplementedError

    @classmethod
    def make_tree(cls):
        write(os.path.join(cls.base, "secret.txt"), SECRET)
        cls.build(cls.www)

    @classmethod
    def start_server(cls):
        cls.server = rftest.Server("--root", cls.www, *cls.server_args, workers=2)
        cls.start_workers = sorted(rftest.wait_until(lambda: len(cls.server.workers()) == 2 and cls.server.workers(),
                                                     5, what="2 workers"))

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

    def etag(self, path="/hello.txt"):
        status, h, _ = self.fetch("HEAD", path)
        self.assertEqual(status, 200)
        return h["etag"]


class DefaultTree(StaticCase):
    """Default options (index.html, no autoindex, no dotfiles) over the default tree: files of
    every content type, a precompressed script, directories with and without an index,
    dotfiles, a 1 MiB file, symlinks inside and out of the root, a FIFO."""

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
