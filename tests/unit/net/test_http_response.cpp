// Response writer output, byte for byte, and the Date cache.
#include <boost/test/unit_test.hpp>

#include <string>

#include "net/http_response.hpp"
#include "tests/unit/log_capture.hpp"

using namespace ringfork;

namespace {
std::string text(const net::byte_buffer& b) { return std::string(b.data(), b.size()); }
} // namespace

BOOST_AUTO_TEST_SUITE(http_response)

BOOST_AUTO_TEST_CASE(imf_fixdate)
{
    char out[29];
    http::format_http_date(784111777, out); // RFC 9110's example instant
    BOOST_TEST(std::string(out, 29) == "Sun, 06 Nov 1994 08:49:37 GMT");
    http::format_http_date(0, out);
    BOOST_TEST(std::string(out, 29) == "Thu, 01 Jan 1970 00:00:00 GMT");
}

BOOST_AUTO_TEST_CASE(date_cache_formats_once_per_second)
{
    http::date_cache d;
    d.update(784111777);
    BOOST_TEST(std::string(d.line()) == "Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
    d.update(784111778);
    BOOST_TEST(std::string(d.line()) == "Date: Sun, 06 Nov 1994 08:49:38 GMT\r\n");
}

BOOST_AUTO_TEST_CASE(keep_alive_response)
{
    http::date_cache d;
    d.update(784111777);
    net::byte_buffer out;
    http::response_writer w(out, d, {1, true, false});
    w.start(200);
    w.header("Content-Type", "text/plain");
    w.finish("Hello, World!");
    BOOST_TEST(text(out) == "HTTP/1.1 200 OK\r\nServer: ringfork\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
                            "Content-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!");
    BOOST_TEST(w.status() == 200u);
}

BOOST_AUTO_TEST_CASE(close_head_and_http10)
{
    http::date_cache d;
    d.update(0);
    net::byte_buffer out;
    http::response_writer w(out, d, {1, false, true});
    w.start(404);
    w.finish("gone");
    BOOST_TEST(text(out).ends_with("Content-Length: 4\r\nConnection: close\r\n\r\n"));
    BOOST_TEST(text(out).starts_with("HTTP/1.1 404 Not Found\r\n"));

    net::byte_buffer out10;
    http::response_writer w10(out10, d, {0, true, false});
    w10.start(200);
    w10.finish("x");
    BOOST_TEST(text(out10).starts_with("HTTP/1.1 200 OK\r\n")); // RFC 9110 §2.5
    BOOST_TEST(text(out10).ends_with("Connection: keep-alive\r\n\r\nx"));
}

BOOST_AUTO_TEST_CASE(error_response_has_allow_and_body)
{
    http::date_cache d;
    d.update(0);
    net::byte_buffer out;
    http::response_writer w(out, d, {1, true, false});
    http::write_error(w, 405, "Allow: GET, HEAD\r\n");
    const std::string s = text(out);
    BOOST_TEST(s.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
    BOOST_TEST(s.find("Allow: GET, HEAD\r\n") != std::string::npos);
    BOOST_TEST(s.ends_with("\r\n\r\nMethod Not Allowed\n"));
}

BOOST_AUTO_TEST_CASE(reason_phrases)
{
    BOOST_TEST(http::reason_phrase(431) == "Request Header Fields Too Large");
    BOOST_TEST(http::reason_phrase(505) == "HTTP Version Not Supported");
    BOOST_TEST(http::reason_phrase(599) == "Unknown");
}

BOOST_AUTO_TEST_CASE(byte_buffer_consume_and_grow)
{
    net::byte_buffer b;
    b.append("hello world");
    b.consume(6);
    BOOST_TEST(std::string(b.data(), b.size()) == "world");
    for (int i = 0; i < 200; ++i)
        b.append("0123456789");
    BOOST_TEST(b.size() == 2005u);
    BOOST_TEST(std::string(b.data(), 5) == "world");
    b.consume(b.size());
    BOOST_TEST(b.empty());
    b.release();
    BOOST_TEST(b.capacity() == 0u);
}

// No header line ever carries CR, LF or NUL, whoever supplies it (issue 15, defect 5): the
// response being written becomes a 500 that closes the connection, and whatever the writer
// had appended before it (an earlier pipelined response) stays as it was.
namespace {

const std::string expected_500 = "HTTP/1.1 500 Internal Server Error\r\nServer: ringfork\r\n"
                                 "Date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"
                                 "Content-Type: text/plain; charset=utf-8\r\nContent-Length: 22\r\n"
                                 "Connection: close\r\n\r\nInternal Server Error\n";

/// An empty output buffer and a Date line for instant 0.
struct writing {
    http::date_cache date;
    net::byte_buffer out;
    writing() { date.update(0); }
    [[nodiscard]] http::response_writer writer(http::response_context ctx = {1, true, false})
    {
        return {out, date, ctx};
    }
};

/// Writes "earlier" then a 301 with a header `name: value` among others.
std::string redirect_with(std::string_view name, std::string_view value)
{
    writing x;
    net::byte_buffer& out = x.out;
    out.append("earlier");
    http::response_writer w = x.writer();
    w.start(301);
    w.header("Content-Type", "text/plain");
    w.header(name, value);
    w.header("X-After", "1");
    w.finish("Moved\n");
    BOOST_TEST(w.status() == (w.rejected() ? 500u : 301u));
    return text(out);
}

} // namespace

BOOST_AUTO_TEST_CASE(header_with_crlf_becomes_a_500)
{
    for (std::string_view bad : {std::string_view("/inj\r\nSet-Cookie: pwned=1/"), std::string_view("a\nb"),
                                 std::string_view("a\rb"), std::string_view("a\0b", 3), std::string_view("\r\n")}) {
        const std::string s = redirect_with("Location", bad);
        BOOST_TEST_INFO(std::string(bad));
        BOOST_TEST(s == "earlier" + expected_500);
    }
}

BOOST_AUTO_TEST_CASE(header_name_with_crlf_or_nul_becomes_a_500)
{
    for (std::string_view bad : {std::string_view("X-A\r\nSet-Cookie"), std::string_view("X\n"),
                                 std::string_view("X\0Y", 3), std::string_view("")}) {
        BOOST_TEST(redirect_with(bad, "v") == "earlier" + expected_500);
    }
}

BOOST_AUTO_TEST_CASE(a_bad_byte_is_found_at_every_position_of_long_values)
{
    // The check reads eight bytes at a time, then the rest one by one: every position of
    // values up to 40 bytes, and bytes next to CR, LF and NUL (0x0b, 0x0c, 0x0e, 0x01,
    // 0x8a, 0x8d, 0x80, 0xff) that must pass. Each refusal logs its line: kept here, counted.
    const test::log_capture log;
    std::size_t refused = 0;
    for (std::size_t len = 1; len <= 40; ++len)
        for (std::size_t at = 0; at < len; ++at) {
            for (const char bad : {'\r', '\n', '\0'}) {
                std::string v(len, 'a');
                v[at] = bad;
                BOOST_TEST_INFO("length " << len << ", byte " << int(bad) << " at " << at);
                BOOST_TEST(redirect_with("X-V", v) == "earlier" + expected_500);
                ++refused;
            }
            for (const char fine : {'\x0b', '\x0c', '\x0e', '\x01', '\x8a', '\x8d', '\x80', '\xff'}) {
                std::string v(len, 'b');
                v[at] = fine;
                BOOST_TEST_INFO("length " << len << ", byte " << int(fine) << " at " << at);
                BOOST_TEST(redirect_with("X-V", v).find("X-V: " + v + "\r\n") != std::string::npos);
            }
        }
    BOOST_TEST(log.count("response header \"X-V\" for a 301 response has") == refused);
}

BOOST_AUTO_TEST_CASE(ordinary_values_pass_untouched)
{
    // Tabs, spaces, obs-text and other punctuation are not the writer's business.
    const std::string s = redirect_with("Location", "/a b\t%25\xC3\xA9?q=\"x\"");
    BOOST_TEST(s.find("Location: /a b\t%25\xC3\xA9?q=\"x\"\r\nX-After: 1\r\n") != std::string::npos);
    BOOST_TEST(s.starts_with("earlierHTTP/1.1 301 "));
}

BOOST_FIXTURE_TEST_CASE(rejected_response_ignores_later_calls, writing)
{
    http::response_writer w = writer({1, true, true}); // HEAD: the 500 has no body either
    w.start(200);
    w.header("ETag", "\"a\"\r\n");
    BOOST_TEST(w.rejected());
    w.header("Content-Type", "text/plain");
    w.finish_head(1000);
    w.finish_without_body();
    w.finish("body");
    BOOST_TEST(!w.finish_head_unknown_length());
    w.buffer().append("streamed after the head"); // goes nowhere
    w.count_body(23);
    BOOST_TEST(w.status() == 500u);
    BOOST_TEST(w.body_length() == 0u);
    BOOST_TEST(!w.context().keep_alive);
    BOOST_TEST(text(out) == expected_500.substr(0, expected_500.size() - 22));
}

BOOST_FIXTURE_TEST_CASE(error_extra_headers_are_checked_too, writing)
{
    http::response_writer w = writer();
    http::write_error(w, 416, "Content-Range: bytes */5\r\nX: a\rb\r\n");
    BOOST_TEST(text(out) == expected_500);

    writing ok;
    http::response_writer w2 = ok.writer();
    http::write_error(w2, 416, "Content-Range: bytes */5\r\n");
    BOOST_TEST(text(ok.out).find("\r\nContent-Range: bytes */5\r\n") != std::string::npos);
    BOOST_TEST(w2.status() == 416u);
}

BOOST_AUTO_TEST_SUITE_END()
