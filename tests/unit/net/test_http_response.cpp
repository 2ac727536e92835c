// Response writer output, byte for byte, and the Date cache.
#include <boost/test/unit_test.hpp>

#include <string>

#include "net/http_response.hpp"

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

BOOST_AUTO_TEST_SUITE_END()
