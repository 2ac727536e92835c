// The static handler over a real temporary root: which status, headers and body (or body
// left to stream) each request gets. Every request goes through ask(), the one place that
// knows the handler interface, so a change of that interface changes only ask().
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "net/http_parser.hpp"
#include "net/http_response.hpp"
#include "tests/unit/temp_root.hpp"
#include "worker/file_cache.hpp"
#include "worker/static_files.hpp"

using namespace ringfork;
using namespace ringfork::worker;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"; // 36 bytes

/// What the handler produced for one request.
struct answer {
    unsigned status = 0;
    std::string head; ///< Status line and header lines, without the blank line.
    std::string body; ///< Whatever followed the head in the output, then the streamed bytes.
    bool streams = false; ///< Part of the body was left to stream from a file.

    /// The value of the first header `name` ("" when absent).
    [[nodiscard]] std::string header(std::string_view name) const
    {
        const std::string key = "\r\n" + std::string(name) + ": ";
        const auto at = head.find(key);
        if (at == std::string::npos)
            return {};
        const auto start = at + key.size();
        return head.substr(start, head.find("\r\n", start) - start);
    }
};

/// `length` bytes of `f` from `offset`, as the file stream would send them.
std::string file_bytes(const open_file& f, std::uint64_t offset, std::uint64_t length)
{
    std::string s(length, '\0');
    const ssize_t n = ::pread(f.fd.get(), s.data(), s.size(), static_cast<off_t>(offset));
    return n == static_cast<ssize_t>(length) ? s : "<short read>";
}

/// Runs `raw` (a whole request head) through `h` as a session would.
answer ask(static_handler& h, std::string raw, std::uint64_t now_ms = 10'000)
{
    http::request req;
    const auto parsed = http::parse_request({raw.data(), raw.size()}, req, http::limits{});
    BOOST_REQUIRE(parsed.state == http::parse_status::complete);
    std::string path(req.path.size(), '\0');
    const long n = http::normalize_path(req.path, {path.data(), path.size()});
    BOOST_REQUIRE(n > 0);
    path.resize(std::size_t(n));

    http::date_cache date;
    date.update(0);
    net::byte_buffer out;
    http::response_writer w(out, date, {req.version_minor, true, req.verb == http::method::head});
    deferred later;
    h.handle({req, path, {}, now_ms}, w, later);

    answer a;
    a.status = w.status();
    const std::string text(out.data(), out.size());
    const auto end = text.find("\r\n\r\n");
    BOOST_REQUIRE(end != std::string::npos);
    a.head = text.substr(0, end);
    a.body = text.substr(end + 4);
    if (const file_body& f = later.file; f.file && f.length > 0) {
        a.streams = true;
        a.body += file_bytes(*f.file, f.offset, f.length);
        if (f.multipart) {
            for (const auto& part : f.multipart->parts)
                a.body += part.head + file_bytes(*f.file, part.offset, part.length);
            a.body += f.multipart->trailer;
        }
    }
    return a;
}

std::string get(std::string_view target, std::string_view headers = {})
{
    return "GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(headers) + "\r\n";
}

/// A 36-byte file, an index, a listing-only directory, a sibling, a dotfile, a link out.
struct site : test::temp_root {
    site()
    {
        fs::create_directories(root / "list" / "sub");
        write("hello.txt", alphabet);
        write("dir/index.html", "<h1>dir</h1>");
        write("list/a&b.txt", "amp");
        write("list/.hidden", "hidden");
        write("app.js", "plain js");
        write("app.js.gz", "gzipped js");
        write(".env", "SECRET=1");
        fs::create_symlink("../outside.txt", root / "out.txt");
        BOOST_REQUIRE(::mkfifo((root / "fifo").c_str(), 0600) == 0);
    }

    [[nodiscard]] static_handler handler(bool autoindex = false) const
    {
        static_options o;
        o.autoindex = autoindex;
        return static_handler(root_fd.get(), o);
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(static_files_suite)

BOOST_FIXTURE_TEST_CASE(whole_file_with_validators, site)
{
    auto h = handler();
    const answer a = ask(h, get("/hello.txt"));
    BOOST_TEST(a.status == 200u);
    BOOST_TEST(a.body == alphabet);
    BOOST_TEST(a.streams);
    BOOST_TEST(a.header("Content-Length") == "36");
    BOOST_TEST(a.header("Content-Type") == "text/plain; charset=utf-8");
    BOOST_TEST(a.header("Accept-Ranges") == "bytes");
    BOOST_TEST(!a.header("ETag").empty());
    BOOST_TEST(!a.header("Last-Modified").empty());
    BOOST_TEST(a.header("Vary").empty());

    const answer head = ask(h, "HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    BOOST_TEST(head.status == 200u);
    BOOST_TEST(head.header("Content-Length") == "36");
    BOOST_TEST(head.header("ETag") == a.header("ETag"));
    BOOST_TEST(head.body.empty());
    BOOST_TEST(!head.streams);
}

BOOST_FIXTURE_TEST_CASE(conditional_requests, site)
{
    auto h = handler();
    const std::string etag = ask(h, get("/hello.txt")).header("ETag");
    const std::string modified = ask(h, get("/hello.txt")).header("Last-Modified");

    const answer same = ask(h, get("/hello.txt", "If-None-Match: " + etag + "\r\n"));
    BOOST_TEST(same.status == 304u);
    BOOST_TEST(same.header("ETag") == etag);
    BOOST_TEST(same.header("Content-Length").empty());
    BOOST_TEST(!same.streams);

    BOOST_TEST(ask(h, get("/hello.txt", "If-Modified-Since: " + modified + "\r\n")).status == 304u);
    BOOST_TEST(ask(h, get("/hello.txt", "If-None-Match: \"other\"\r\n")).status == 200u);
    BOOST_TEST(ask(h, get("/hello.txt", "If-Match: \"other\"\r\n")).status == 412u);
    BOOST_TEST(ask(h, get("/hello.txt", "If-Match: " + etag + "\r\n")).status == 200u);
}

BOOST_FIXTURE_TEST_CASE(ranges, site)
{
    auto h = handler();
    const answer one = ask(h, get("/hello.txt", "Range: bytes=2-5\r\n"));
    BOOST_TEST(one.status == 206u);
    BOOST_TEST(one.header("Content-Range") == "bytes 2-5/36");
    BOOST_TEST(one.header("Content-Length") == "4");
    BOOST_TEST(one.body == "2345");

    const answer suffix = ask(h, get("/hello.txt", "Range: bytes=-3\r\n"));
    BOOST_TEST(suffix.body == "XYZ");

    const answer none = ask(h, get("/hello.txt", "Range: bytes=40-\r\n"));
    BOOST_TEST(none.status == 416u);
    BOOST_TEST(none.header("Content-Range") == "bytes */36");
    BOOST_TEST(!none.streams);

    const answer stale = ask(h, get("/hello.txt", "Range: bytes=2-5\r\nIf-Range: \"old\"\r\n"));
    BOOST_TEST(stale.status == 200u); // If-Range does not match: the whole file
    BOOST_TEST(stale.body == alphabet);
}

BOOST_FIXTURE_TEST_CASE(several_ranges_are_multipart, site)
{
    auto h = handler();
    const answer a = ask(h, get("/hello.txt", "Range: bytes=0-1,10-11\r\n"));
    BOOST_TEST(a.status == 206u);
    const std::string type = a.header("Content-Type");
    const std::string prefix = "multipart/byteranges; boundary=";
    BOOST_REQUIRE(type.starts_with(prefix));
    const std::string b = type.substr(prefix.size());
    const std::string expected = "--" + b + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 0-1/36\r\n\r\n01" +
                                 "\r\n--" + b + "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Range: bytes 10-11/36\r\n\r\nAB" +
                                 "\r\n--" + b + "--\r\n";
    BOOST_TEST(a.body == expected);
    BOOST_TEST(a.header("Content-Length") == std::to_string(expected.size()));
}

BOOST_FIXTURE_TEST_CASE(directories_redirect_index_and_list, site)
{
    auto h = handler(true);
    const answer redirect = ask(h, get("/dir?x=1"));
    BOOST_TEST(redirect.status == 301u);
    BOOST_TEST(redirect.header("Location") == "/dir/?x=1");

    const answer index = ask(h, get("/dir/"));
    BOOST_TEST(index.status == 200u);
    BOOST_TEST(index.body == "<h1>dir</h1>");

    const answer listing = ask(h, get("/list/"));
    BOOST_TEST(listing.status == 200u);
    BOOST_TEST(listing.header("Content-Type") == "text/html; charset=utf-8");
    BOOST_TEST(listing.body.find("<a href=\"a%26b.txt\">a&amp;b.txt</a>") != std::string::npos);
    BOOST_TEST(listing.body.find("<a href=\"sub/\">sub/</a>") != std::string::npos);
    BOOST_TEST(listing.body.find(".hidden") == std::string::npos);

    auto plain = handler(false);
    BOOST_TEST(ask(plain, get("/list/")).status == 404u); // no index, no --autoindex
}

BOOST_FIXTURE_TEST_CASE(precompressed_sibling, site)
{
    auto h = handler();
    const answer gz = ask(h, get("/app.js", "Accept-Encoding: gzip, br\r\n"));
    BOOST_TEST(gz.status == 200u);
    BOOST_TEST(gz.body == "gzipped js");
    BOOST_TEST(gz.header("Content-Encoding") == "gzip");
    BOOST_TEST(gz.header("Vary") == "Accept-Encoding");
    BOOST_TEST(gz.header("Content-Type") == "text/javascript; charset=utf-8");

    const answer plain = ask(h, get("/app.js"));
    BOOST_TEST(plain.body == "plain js");
    BOOST_TEST(plain.header("Content-Encoding").empty());
    BOOST_TEST(plain.header("Vary") == "Accept-Encoding");
}

BOOST_FIXTURE_TEST_CASE(refusals, site)
{
    auto h = handler();
    BOOST_TEST(ask(h, get("/missing.txt")).status == 404u);
    BOOST_TEST(ask(h, get("/.env")).status == 404u);
    BOOST_TEST(ask(h, get("/out.txt")).status == 404u);
    BOOST_TEST(ask(h, get("/fifo")).status == 403u);
    const answer up = ask(h, get("/../outside.txt")); // normalised to /outside.txt: not there
    BOOST_TEST(up.status == 404u);
    BOOST_TEST(up.body.find("outside") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(a_directory_named_with_crlf_redirects_to_itself, site)
{
    fs::create_directories(root / "inj\r\nSet-Cookie: x=1");
    auto h = handler();
    const answer a = ask(h, get("/inj%0D%0ASet-Cookie:%20x=1"));
    BOOST_TEST(a.status == 301u);
    BOOST_TEST(a.header("Location") == "/inj%0D%0ASet-Cookie:%20x=1/");
    BOOST_TEST(a.header("Set-Cookie").empty());
}

BOOST_AUTO_TEST_SUITE_END()
