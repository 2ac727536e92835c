"""Static files under attack from whoever can write under --root: names swapped for symlinks
between two requests (listings and files), names that are not valid in a URI or a header,
absolute symlinks, and a descriptor limit smaller than the connection limit."""
import os
import re
import socket

import rftest
import static_helpers

MARK = os.urandom(6).hex()
SECRET = f"SECRET-{MARK}".encode()
OUTSIDE_NAME = f"outside-only-{MARK}.txt"
ROUNDS = 25  # attack rounds per test: each one request before and after a swap


def get(port, target):
    """(status, headers, body, raw head) of one `Connection: close` GET; headers maps each
    lower-cased name to its values."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode("latin-1"))
        data, closed = rftest.recv_until_close(s, timeout=5)
    assert closed and b"\r\n\r\n" in data, f"GET {target}: incomplete answer {data[:200]!r}"
    raw_head, body = data.split(b"\r\n\r\n", 1)
    lines = raw_head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, value = line.split(":", 1)
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    length = int(headers.get("content-length", ["0"])[0])
    assert len(body) == length, f"GET {target}: {len(body)} body bytes for Content-Length {length}"
    return int(lines[0].split()[1]), headers, body, raw_head


class HostileCase(static_helpers.TreeServerCase):
    """One server per class (one worker, so every request meets the same cache) over a
    tree built in build(); `base` holds the root and an outside directory."""
    server_args = ()
    prefix = ()
    tmp_prefix = "rf-hostile-"

    @classmethod
    def build(cls):
        pass

    @classmethod
    def make_tree(cls):
        cls.outside = os.path.join(cls.base, "outside")
        os.mkdir(cls.outside)
        for name in (OUTSIDE_NAME, "page.txt", "f.txt"):
            with open(os.path.join(cls.outside, name), "wb") as f:
                f.write(SECRET)
        cls.build()

    @classmethod
    def start_server(cls):
        prefix = (rftest.program(cls.prefix[0]), *cls.prefix[1:]) if cls.prefix else ()
        cls.server = rftest.Server("--root", cls.www, *cls.server_args, workers=1, prefix=prefix)

    def path(self, *parts):
        return os.path.join(self.www, *parts)

    def get(self, target):
        return get(self.server.port, target)

    def assertNoLeak(self, target, body):
        for needle, what in ((SECRET, "served a file from outside the root"),
                             (OUTSIDE_NAME.encode(), "listed a directory outside the root"),
                             (b"passwd", "listed /etc")):
            self.assertFalse(needle in body, f"GET {target} {what}: {body[:300]!r}")

    def swap_for_link(self, name, target):
        """Moves www/name aside (outside the root) and puts a symlink to target in its place."""
        held = os.path.join(self.base, "held-" + name.replace("/", "_"))
        os.rename(self.path(name), held)
        os.symlink(target, self.path(name))
        return held

    def restore(self, name, held):
        os.unlink(self.path(name))
        os.rename(held, self.path(name))


class SwappedForSymlinks(HostileCase):
    """A name answered once, then swapped for a symlink that leads out of the root before the
    next request: the second request never reaches anything outside (issue 15, defect 4)."""
    server_args = ("--autoindex",)

    @classmethod
    def build(cls):
        os.mkdir(os.path.join(cls.www, "x"))
        with open(os.path.join(cls.www, "x", "inside-marker.txt"), "wb") as f:
            f.write(b"inside")
        with open(os.path.join(cls.www, "f.txt"), "wb") as f:
            f.write(b"inside file\n")
        os.mkdir(os.path.join(cls.www, "d"))
        with open(os.path.join(cls.www, "d", "page.txt"), "wb") as f:
            f.write(b"inside page\n")

    def test_listing_swapped_for_a_link_out(self):
        for i in range(ROUNDS):
            status, _, body, _ = self.get("/x/")
            self.assertEqual(status, 200)
            self.assertIn(b"inside-marker.txt", body)
            held = self.swap_for_link("x", self.outside if i % 2 else "/etc")
            try:
                status, _, body, _ = self.get("/x/")
                self.assertNoLeak("/x/ after the swap", body)
                self.assertEqual(status, 404, f"round {i}: {body[:200]!r}")
                status, _, body, _ = self.get("/x")
                self.assertNoLeak("/x after the swap", body)
            finally:
                self.restore("x", held)

    def test_listing_of_a_link_planted_before_any_request(self):
        os.symlink(self.outside, self.path("planted"))
        try:
            for target in ("/planted/", "/planted", "/planted/" + OUTSIDE_NAME):
                status, _, body, _ = self.get(target)
                self.assertNoLeak(target, body)
                self.assertEqual(status, 404, target)
        finally:
            os.unlink(self.path("planted"))

    def test_file_swapped_for_a_link_out(self):
        secret_path = os.path.join(self.outside, "f.txt")
        for i in range(ROUNDS):
            status, _, body, _ = self.get("/f.txt")
            self.assertEqual((status, body), (200, b"inside file\n"))
            held = self.swap_for_link("f.txt", secret_path)
            try:
                # Within the revalidation second the answer may still be the file the name
                # held at its last check (opened beneath the root); never the link's target.
                status, _, body, _ = self.get("/f.txt")
                self.assertNoLeak("/f.txt after the swap", body)
                self.assertIn((status, body[:12]), ((200, b"inside file\n"), (404, b"Not Found\n")))
            finally:
                self.restore("f.txt", held)
        held = self.swap_for_link("f.txt", secret_path)
        try:
            def refused():
                status, _, body, _ = self.get("/f.txt")
                self.assertNoLeak("/f.txt", body)
                return status == 404
            rftest.wait_until(refused, 5, interval=0.05, what="the link to be refused once revalidated")
        finally:
            self.restore("f.txt", held)

    def test_directory_swapped_under_a_cached_file(self):
        for i in range(ROUNDS):
            status, _, body, _ = self.get("/d/page.txt")
            self.assertEqual((status, body), (200, b"inside page\n"))
            held = self.swap_for_link("d", self.outside)
            try:
                for target in ("/d/page.txt", "/d/" + OUTSIDE_NAME, "/d/", "/d"):
                    status, _, body, _ = self.get(target)
                    self.assertNoLeak(target, body)
                status, _, body, _ = self.get("/d/" + OUTSIDE_NAME)
                self.assertEqual(status, 404)
            finally:
                self.restore("d", held)

    def test_zz_worker_survived(self):
        self.assertEqual(len(self.server.workers()), 1)
        self.assertEqual(self.get("/f.txt")[:3:2], (200, b"inside file\n"))


class DirectoryRedirects(HostileCase):
    """The redirect from /dir to /dir/ carries the path percent-encoded again, as a valid
    URI-reference (RFC 9110 §10.2.2), whatever the directory is called (issue 15, defect 5)."""
    NAMES = {  # directory name on disk -> how its URL path is written
        "100%": "100%25",
        "a?b": "a%3Fb",
        "c#d": "c%23d",
        "inj\r\nSet-Cookie: pwned=1": "inj%0D%0ASet-Cookie:%20pwned=1",
        "sp ace": "sp%20ace",
        "\u00e9t\u00e9": "%C3%A9t%C3%A9",
        "q\"<>\\^`{|}": "q%22%3C%3E%5C%5E%60%7B%7C%7D",
    }

    @classmethod
    def build(cls):
        for name in cls.NAMES:
            d = os.path.join(os.fsencode(cls.www), name.encode())
            os.mkdir(d)
            with open(os.path.join(d, b"index.html"), "wb") as f:
                f.write(b"index of " + name.encode())

    def assertRedirect(self, target, location):
        status, h, body, raw = self.get(target)
        self.assertEqual(status, 301, f"GET {target}: {raw!r}")
        self.assertEqual(h.get("location"), [location], f"GET {target}: {raw!r}")
        self.assertNotIn("set-cookie", h, f"GET {target} split the head: {raw!r}")
        self.assertTrue(all(0x21 <= b < 0x7f for b in location.encode()), location)
        return location

    def test_names_are_encoded_again(self):
        for name, encoded in self.NAMES.items():
            with self.subTest(name=name):
                location = self.assertRedirect("/" + encoded, "/" + encoded + "/")
                status, _, body, _ = self.get(location)
                self.assertEqual((status, body), (200, b"index of " + name.encode()))

    def test_percent_spelled_differently_lands_on_the_same_place(self):
        # Lower-case escapes and escaped unreserved characters normalise to one spelling.
        self.assertRedirect("/%31%300%25", "/100%25/")
        self.assertRedirect("/a%3fb", "/a%3Fb/")

    def test_query_is_kept(self):
        self.assertRedirect("/100%25?x=1&y=%41", "/100%25/?x=1&y=%41")
        self.assertRedirect("/c%23d?", "/c%23d/")
        # Bytes a request line may carry but a URI may not are encoded in the query too.
        self.assertRedirect("/a%3Fb?k=\"v\"|{}", "/a%3Fb/?k=%22v%22%7C%7B%7D")

    def test_nested_path(self):
        os.makedirs(os.path.join(self.www, "100%", "x y"), exist_ok=True)
        self.assertRedirect("/100%25/x%20y", "/100%25/x%20y/")

    def test_injection_does_not_reach_the_log_as_two_lines(self):
        self.get("/inj%0D%0ASet-Cookie:%20pwned=1")
        self.assertEqual(self.server.count_log(r"^Set-Cookie"), 0)

    def test_zz_worker_survived(self):
        self.assertEqual(len(self.server.workers()), 1)


class DescriptorLimit(HostileCase):
    """RLIMIT_NOFILE far below --max-connections (issue 15, defect 8): the open-file cache is
    sized from the limit, files keep being served, and a warning names the limits."""
    prefix = ("prlimit", "--nofile=256:256")
    FILES = 400

    @classmethod
    def build(cls):
        for i in range(cls.FILES):
            with open(os.path.join(cls.www, f"f{i}.txt"), "wb") as f:
                f.write(f"file {i}\n".encode())

    def test_warning_names_the_limits(self):
        line = self.server.wait_log(r"warn.*RLIMIT_NOFILE.*", 5).group(0)
        self.assertIn("256", line)
        self.assertIn("--max-connections 10000", line)

    def test_crawl_never_fails(self):
        statuses = {}
        with rftest.Conn(self.server.port, timeout=10) as c:
            for rnd in range(2):  # the second round finds some files cached, most not
                for i in range(self.FILES):
                    for n in (i, 0):  # f0.txt is asked for between every two others: always cached
                        c.send(f"GET /f{n}.txt HTTP/1.1\r\nHost: t\r\n\r\n".encode())
                        status, _, body = c.response()
                        statuses[status] = statuses.get(status, 0) + 1
                        self.assertEqual((status, body), (200, f"file {n}\n".encode()),
                                         f"round {rnd}, /f{n}.txt after {i} files: {statuses}")
        self.assertEqual(statuses, {200: 4 * self.FILES})

    def test_zz_worker_survived(self):
        self.assertEqual(len(self.server.workers()), 1)


class AbsoluteSymlinks(HostileCase):
    """Symlinks are resolved against the root's descriptor, never the host's tree: relative
    links that stay inside are followed, absolute ones are 404 wherever they point, and an
    absolute link is never read as if the root were "/" (issue 15, "Also")."""

    @classmethod
    def build(cls):
        j = lambda *p: os.path.join(cls.www, *p)
        os.mkdir(j("sub"))
        with open(j("small.txt"), "wb") as f:
            f.write(b"small\n")
        with open(j("sub", "page.txt"), "wb") as f:
            f.write(b"page\n")
        os.symlink(j("small.txt"), j("abs_inside.txt"))   # the host path of a file inside
        os.symlink("/small.txt", j("abs_rooted.txt"))     # inside only if "/" meant the root
        os.symlink(j("sub"), j("abs_dir"))
        os.symlink(os.path.join(cls.outside, "f.txt"), j("abs_outside.txt"))
        os.symlink("small.txt", j("rel.txt"))
        os.symlink("../small.txt", j("sub", "rel_up.txt"))
        os.symlink("sub", j("rel_dir"))

    def test_relative_links_inside_are_followed(self):
        for target, body in (("/rel.txt", b"small\n"), ("/sub/rel_up.txt", b"small\n"),
                             ("/rel_dir/page.txt", b"page\n")):
            with self.subTest(target=target):
                self.assertEqual(self.get(target)[::2], (200, body))

    def test_absolute_links_are_404_wherever_they_point(self):
        for target in ("/abs_inside.txt", "/abs_rooted.txt", "/abs_dir/page.txt", "/abs_dir/", "/abs_dir",
                       "/abs_outside.txt"):
            with self.subTest(target=target):
                status, _, body, _ = self.get(target)
                self.assertNoLeak(target, body)
                self.assertEqual(status, 404)


if __name__ == "__main__":
    rftest.main()
