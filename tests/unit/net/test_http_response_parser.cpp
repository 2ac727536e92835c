// Unit tests for net/http_response_parser: status lines, fields and framing of an
// upstream's response head. The fuzz target under tests/fuzz checks invariants only.
#include "net/http_response_parser.hpp"

#include <boost/test/unit_test.hpp>

#include <string>
#include <string_view>

using namespace ringfork::http;
using namespace std::string_literals;
using namespace std::string_view_literals;

BOOST_TEST_DONT_PRINT_LOG_VALUE(ringfork::http::response_framing)
BOOST_TEST_DONT_PRINT_LOG_VALUE(ringfork::http::response_parse)

namespace {

struct parsed {
    std::string wire; ///< Kept so the head's views stay valid.
    response_head head;
    response_result result;
};

parsed parse(std::string wire, bool head_request = false, const response_limits& lim = {})
{
    parsed p;
    p.wire = std::move(wire);
    p.result = parse_response({p.wire.data(), p.wire.size()}, p.head, head_request, lim);
    return p;
}

response_parse state(std::string wire, bool head_request = false)
{
    return parse(std::move(wire), head_request).result.state;
}

/// A 200 head with `fields` (each line with its CRLF) before the empty line.
std::string ok(std::string_view fields, std::string_view status_line = "HTTP/1.1 200 OK")
{
    return std::string(status_line) + "\r\n" + std::string(fields) + "\r\n";
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_response_parser)

BOOST_AUTO_TEST_CASE(content_length_response)
{
    const auto p = parse(ok("Content-Length: 5\r\nX-A: b\r\n") + "hello");
    BOOST_TEST(p.result.state == response_parse::complete);
    BOOST_TEST(p.result.consumed == p.wire.size() - 5);
    BOOST_TEST(p.head.status == 200u);
    BOOST_TEST(p.head.reason == "OK");
    BOOST_TEST(p.head.version_minor == 1);
    BOOST_TEST(p.head.framing == response_framing::content_length);
    BOOST_TEST(p.head.content_length == 5u);
    BOOST_TEST(p.head.keep_alive);
    BOOST_TEST(p.head.find("x-a") == "b");
    BOOST_TEST(p.head.header_count == 2u);
}

BOOST_AUTO_TEST_CASE(chunked_and_until_close)
{
    auto p = parse(ok("Transfer-Encoding: chunked\r\n"));
    BOOST_TEST(p.head.framing == response_framing::chunked);
    BOOST_TEST(p.head.keep_alive);
    p = parse(ok("Transfer-Encoding: CHUNKED\r\n"));
    BOOST_TEST(p.head.framing == response_framing::chunked);
    p = parse(ok("X: y\r\n"));
    BOOST_TEST(p.head.framing == response_framing::until_close);
    BOOST_TEST(!p.head.keep_alive); // the close ends the body
}

BOOST_AUTO_TEST_CASE(persistence_by_version_and_connection)
{
    BOOST_TEST(!parse(ok("Content-Length: 0\r\nConnection: close\r\n")).head.keep_alive);
    BOOST_TEST(!parse(ok("Content-Length: 0\r\n", "HTTP/1.0 200 OK")).head.keep_alive);
    const auto p = parse(ok("Content-Length: 0\r\nConnection: Keep-Alive\r\n", "HTTP/1.0 200 OK"));
    BOOST_TEST(p.head.keep_alive);
    BOOST_TEST(p.head.version_minor == 0);
    BOOST_TEST(parse(ok("Content-Length: 0\r\n", "HTTP/1.7 200 OK")).head.version_minor == 1);
}

BOOST_AUTO_TEST_CASE(no_body_for_head_204_304_and_interim)
{
    auto p = parse(ok("Content-Length: 1234\r\n"), true);
    BOOST_TEST(p.head.framing == response_framing::none);
    BOOST_TEST(p.head.length_declared);
    BOOST_TEST(p.head.content_length == 1234u); // what the GET would have carried
    BOOST_TEST(parse(ok("Content-Length: 3\r\n", "HTTP/1.1 204 No Content")).head.framing == response_framing::none);
    BOOST_TEST(parse(ok("", "HTTP/1.1 304 Not Modified")).head.framing == response_framing::none);
    BOOST_TEST(parse(ok("", "HTTP/1.1 304 Not Modified")).head.keep_alive);
    p = parse(ok("", "HTTP/1.1 100 Continue") + ok("Content-Length: 0\r\n"));
    BOOST_TEST(p.result.state == response_parse::complete);
    BOOST_TEST(p.head.interim());
    BOOST_TEST(p.result.consumed == "HTTP/1.1 100 Continue\r\n\r\n"sv.size());
    BOOST_TEST(parse(ok("Link: </a>\r\n", "HTTP/1.1 103 Early Hints")).head.interim());
}

BOOST_AUTO_TEST_CASE(status_line_forms)
{
    BOOST_TEST(parse(ok("Content-Length: 0\r\n", "HTTP/1.1 200")).head.reason.empty());
    BOOST_TEST(parse(ok("Content-Length: 0\r\n", "HTTP/1.1 200 ")).head.reason.empty());
    BOOST_TEST(parse(ok("Content-Length: 0\r\n", "HTTP/1.1 404 Not Found Here")).head.reason == "Not Found Here");
    BOOST_TEST(parse(ok("Content-Length: 0\r\n", "HTTP/1.1 418 I'm a teapot")).head.status == 418u);
    BOOST_TEST(parse("HTTP/1.1 200 OK\nContent-Length: 0\n\n").result.state == response_parse::complete); // bare LF
    for (const std::string_view bad : {"HTTP/1.1 20 OK"sv, "HTTP/1.1 2000 OK"sv, "HTTP/1.1 099 X"sv, "HTTP/1.1 600 X"sv,
                                       "HTTP/2.0 200 OK"sv, "HTTP/0.9 200 OK"sv, "http/1.1 200 OK"sv, "HTTP/1.1  200 OK"sv,
                                       "HTTP/1.1 200OK"sv, "HTTP/1.1\t200 OK"sv, "HTTP/11 200 OK"sv, ""sv, " HTTP/1.1 200 OK"sv,
                                       "HTTP/1.1 2x0 OK"sv})
        BOOST_TEST((state(ok("Content-Length: 0\r\n", bad)) == response_parse::malformed), bad);
}

BOOST_AUTO_TEST_CASE(bytes_a_head_never_carries)
{
    BOOST_TEST(state("HTTP/1.1 200 OK\rX: y\r\n\r\n") == response_parse::malformed);      // bare CR
    BOOST_TEST(state("HTTP/1.1 200 O\0K\r\n\r\n"s) == response_parse::malformed);          // NUL in the reason
    BOOST_TEST(state(ok("X: a\rb\r\n")) == response_parse::malformed);                    // bare CR in a value
    BOOST_TEST(state(ok("X: a\0b\r\n"s)) == response_parse::malformed);                    // NUL in a value
    BOOST_TEST(state(ok("X: a\r\n b\r\n")) == response_parse::malformed);                  // obs-fold
    BOOST_TEST(state(ok("X : a\r\n")) == response_parse::malformed);                       // space before the colon
    BOOST_TEST(state(ok("\r\n")) == response_parse::complete);                             // the empty line ends the head
    BOOST_TEST(state("\r\nHTTP/1.1 200 OK\r\n\r\n") == response_parse::malformed);          // leading empty line
    const auto p = parse(ok("X: a\r\n b\r\n"));
    BOOST_TEST(p.result.why == "field line");
}

BOOST_AUTO_TEST_CASE(framing_that_could_be_read_two_ways)
{
    const auto why = [](std::string fields) { return std::string(parse(ok(fields)).result.why); };
    BOOST_TEST(why("Content-Length: 5\r\nContent-Length: 5\r\n") == "two Content-Length fields");
    BOOST_TEST(why("Content-Length: 5\r\nContent-Length: 6\r\n") == "two Content-Length fields");
    BOOST_TEST(why("Content-Length: 5, 5\r\n") == "Content-Length value");
    BOOST_TEST(why("Content-Length: -1\r\n") == "Content-Length value");
    BOOST_TEST(why("Content-Length: 0x10\r\n") == "Content-Length value");
    BOOST_TEST(why("Content-Length: \r\n") == "Content-Length value");
    BOOST_TEST(why("Content-Length: 99999999999999999999999\r\n") == "Content-Length value");
    BOOST_TEST(why("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n") == "Transfer-Encoding with Content-Length");
    BOOST_TEST(why("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n") == "Transfer-Encoding with Content-Length");
    BOOST_TEST(why("Transfer-Encoding: gzip, chunked\r\n") == "Transfer-Encoding other than chunked");
    BOOST_TEST(why("Transfer-Encoding: chunked, chunked\r\n") == "Transfer-Encoding other than chunked");
    BOOST_TEST(why("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n") ==
               "Transfer-Encoding other than chunked");
    BOOST_TEST(why("Transfer-Encoding: identity\r\n") == "Transfer-Encoding other than chunked");
    BOOST_TEST(std::string(parse(ok("Transfer-Encoding: chunked\r\n", "HTTP/1.0 200 OK")).result.why) ==
               "Transfer-Encoding in HTTP/1.0");
    // Still refused when no body follows: a head that lies about framing is not trusted.
    BOOST_TEST(state(ok("Content-Length: 1\r\nContent-Length: 2\r\n"), true) == response_parse::malformed);
}

BOOST_AUTO_TEST_CASE(need_more_until_the_empty_line)
{
    const std::string whole = ok("Content-Length: 0\r\nX: y\r\n");
    for (std::size_t n = 0; n < whole.size(); ++n)
        BOOST_TEST((state(whole.substr(0, n)) == response_parse::need_more), n);
    BOOST_TEST(state(whole) == response_parse::complete);
}

BOOST_AUTO_TEST_CASE(over_long_heads)
{
    response_limits lim;
    lim.max_head_bytes = 64;
    BOOST_TEST(parse(ok("X: " + std::string(100, 'a') + "\r\n"), false, lim).result.state == response_parse::too_large);
    BOOST_TEST(parse("HTTP/1.1 200 " + std::string(100, 'a'), false, lim).result.state == response_parse::too_large);
    BOOST_TEST(parse("HTTP/1.1 200 OK\r\nX: " + std::string(60, 'b'), false, lim).result.state ==
               response_parse::too_large); // no line end within the window
    BOOST_TEST(parse(ok("X: y\r\n"), false, lim).result.state == response_parse::complete);
    lim = {};
    lim.max_headers = 2;
    BOOST_TEST(parse(ok("A: 1\r\nB: 2\r\n"), false, lim).result.state == response_parse::complete);
    BOOST_TEST(parse(ok("A: 1\r\nB: 2\r\nC: 3\r\n"), false, lim).result.state == response_parse::too_large);
}

BOOST_AUTO_TEST_SUITE_END()
