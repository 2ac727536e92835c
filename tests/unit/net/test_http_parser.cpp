// Unit tests for net/http_parser: request heads (request line, field lines, streams of them)
// and path normalisation. Chunked bodies are in test_http_parser_chunked.cpp.
// Exact status codes are pinned here; the fuzz target under tests/fuzz checks invariants only.
#include "net/http_parser.hpp"

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <concepts>
#include <deque>
#include <limits>
#include <string>
#include <string_view>

using namespace ringfork::http;
using namespace std::string_view_literals;

BOOST_TEST_DONT_PRINT_LOG_VALUE(ringfork::http::method)
BOOST_TEST_DONT_PRINT_LOG_VALUE(ringfork::http::body_framing)
BOOST_TEST_DONT_PRINT_LOG_VALUE(ringfork::http::parse_status)

namespace {

constexpr int need_more = -1;
constexpr int complete = 0;

parse_result parse(std::string_view s, request& r, const limits& lim = {}) {
    return parse_request(std::span<const char>(s.data(), s.size()), r, lim);
}

// A temporary wire string is kept alive for the whole run, because the request's views
// point into it and the checks read them after the full expression has ended.
template <class S>
    requires std::same_as<S, std::string>
parse_result parse(S&& s, request& r, const limits& lim = {}) {
    static std::deque<std::string> kept;
    return parse(std::string_view(kept.emplace_back(std::move(s))), r, lim);
}

// 0 for complete, -1 for need_more, otherwise the error status.
int outcome(std::string_view s, const limits& lim = {}) {
    request r;
    const parse_result res = parse(s, r, lim);
    if (res.state == parse_status::complete) return complete;
    if (res.state == parse_status::need_more) return need_more;
    return res.status;
}

// A minimal valid HTTP/1.1 head with extra header lines inserted before the blank line.
std::string req(std::string_view extra_lines, std::string_view start = "GET / HTTP/1.1") {
    return std::string(start) + "\r\nHost: h\r\n" + std::string(extra_lines) + "\r\n";
}

std::string with_header(std::string_view name_value) { return req(std::string(name_value) + "\r\n"); }

// "ERR" when normalize_path refuses the input.
std::string norm(std::string_view raw) {
    std::string out(raw.size(), '\0');
    const long n = normalize_path(raw, {out.data(), out.size()});
    if (n < 0) return "ERR";
    out.resize(static_cast<std::size_t>(n));
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(http_parser_request_line)

BOOST_AUTO_TEST_CASE(simple_get_fills_every_field) {
    const std::string_view wire = "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8184\r\n\r\n";
    request r;
    const auto res = parse(wire, r);
    BOOST_TEST(res.state == parse_status::complete);
    BOOST_TEST(res.consumed == wire.size());
    BOOST_TEST(r.verb == method::get);
    BOOST_TEST(r.method_text == "GET"sv);
    BOOST_TEST(r.target == "/plaintext"sv);
    BOOST_TEST(r.path == "/plaintext"sv);
    BOOST_TEST(r.query.empty());
    BOOST_TEST(r.host == "127.0.0.1:8184"sv);
    BOOST_TEST(r.version_minor == 1);
    BOOST_TEST(r.keep_alive);
    BOOST_TEST(!r.expect_continue);
    BOOST_TEST(r.framing == body_framing::none);
    BOOST_TEST(r.header_count == 1u);
    BOOST_TEST(r.headers[0].name == "Host"sv);
}

BOOST_AUTO_TEST_CASE(query_splits_at_first_question_mark) {
    request r;
    BOOST_TEST(parse(req("", "GET /a/b?x=1&y=?z HTTP/1.1"), r).state == parse_status::complete);
    BOOST_TEST(r.path == "/a/b"sv);
    BOOST_TEST(r.query == "x=1&y=?z"sv);
    BOOST_TEST(parse(req("", "GET /? HTTP/1.1"), r).state == parse_status::complete);
    BOOST_TEST(r.path == "/"sv);
    BOOST_TEST(r.query.empty());
}

BOOST_AUTO_TEST_CASE(known_methods_are_case_sensitive) {
    const std::pair<std::string_view, method> table[] = {
        {"GET", method::get},     {"HEAD", method::head},       {"POST", method::post},
        {"PUT", method::put},     {"DELETE", method::delete_},  {"OPTIONS", method::options},
        {"PATCH", method::patch}, {"TRACE", method::trace},     {"PROPFIND", method::other},
        {"get", method::other},   {"GETX", method::other},      {"X-Y!~", method::other},
    };
    for (const auto& [text, verb] : table) {
        request r;
        BOOST_TEST_CONTEXT(text) {
            BOOST_TEST(parse(req("", std::string(text) + " / HTTP/1.1"), r).state == parse_status::complete);
            BOOST_TEST(r.verb == verb);
            BOOST_TEST(r.method_text == text);
        }
    }
}

BOOST_AUTO_TEST_CASE(request_line_syntax_errors_are_400) {
    BOOST_TEST(outcome(req("", "GE(T / HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", " / HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET  / HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET /  HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET / HTTP/1.1 ")) == 400);
    BOOST_TEST(outcome(req("", "GET\t/ HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET /")) == 400);
    BOOST_TEST(outcome(req("", "GET / ")) == 400);
    BOOST_TEST(outcome(req("", "GET")) == 400);
}

BOOST_AUTO_TEST_CASE(versions) {
    request r;
    BOOST_TEST(parse("GET / HTTP/1.0\r\n\r\n", r).state == parse_status::complete);
    BOOST_TEST(r.version_minor == 0);
    BOOST_TEST(outcome(req("", "GET / HTTP/2.0")) == 505);
    BOOST_TEST(parse("GET / HTTP/1.2\r\nHost: a\r\n\r\n", r).state == parse_status::complete);
    BOOST_TEST(r.version_minor == 1); // RFC 9110 §2.5: a later 1.x is handled as 1.1
    BOOST_TEST(outcome(req("", "GET / HTTP/0.9")) == 505);
    BOOST_TEST(outcome(req("", "GET / HTTP/1.10")) == 400);
    BOOST_TEST(outcome(req("", "GET / http/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET / HTTP/1")) == 400);
    BOOST_TEST(outcome(req("", "GET / HTTP/a.b")) == 400);
    BOOST_TEST(outcome(req("", "GET / HTTP/1,1")) == 400);
}

BOOST_AUTO_TEST_CASE(target_bytes_must_be_visible_ascii_without_fragment) {
    BOOST_TEST(outcome(req("", "GET /a\x01 HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET /a\x7f HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET /a\x80 HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET /a\xff HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET /a#frag HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET /a\\b|{}^` HTTP/1.1")) == complete);
    BOOST_TEST(outcome(req("", "GET foo HTTP/1.1")) == 400);
}

BOOST_AUTO_TEST_CASE(asterisk_form_only_for_options) {
    request r;
    BOOST_TEST(parse(req("", "OPTIONS * HTTP/1.1"), r).state == parse_status::complete);
    BOOST_TEST(r.path == "*"sv);
    BOOST_TEST(outcome(req("", "GET * HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "OPTIONS ** HTTP/1.1")) == 400);
}

BOOST_AUTO_TEST_CASE(authority_form_only_for_connect) {
    request r;
    BOOST_TEST(parse(req("", "CONNECT example.com:443 HTTP/1.1"), r).state == parse_status::complete);
    BOOST_TEST(r.verb == method::connect);
    BOOST_TEST(r.target == "example.com:443"sv);
    BOOST_TEST(outcome(req("", "CONNECT [::1]:443 HTTP/1.1")) == complete);
    BOOST_TEST(outcome(req("", "CONNECT example.com HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "CONNECT example.com: HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "CONNECT / HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "CONNECT http://example.com/ HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET example.com:443 HTTP/1.1")) == 400);
}

BOOST_AUTO_TEST_CASE(absolute_form_supplies_host_and_path) {
    request r;
    BOOST_TEST(parse(req("", "GET http://example.com:8080/p/q?x=1 HTTP/1.1"), r).state == parse_status::complete);
    BOOST_TEST(r.host == "example.com:8080"sv);
    BOOST_TEST(r.path == "/p/q"sv);
    BOOST_TEST(r.query == "x=1"sv);
    BOOST_TEST(r.target == "http://example.com:8080/p/q?x=1"sv);

    BOOST_TEST(parse(req("", "GET HTTPS://Example.com HTTP/1.1"), r).state == parse_status::complete);
    BOOST_TEST(r.host == "Example.com"sv);
    BOOST_TEST(r.path == "/"sv);

    BOOST_TEST(parse(req("", "GET http://e.com?x HTTP/1.1"), r).state == parse_status::complete);
    BOOST_TEST(r.path == "/"sv);
    BOOST_TEST(r.query == "x"sv);

    // Empty Host is fine when the target carries the authority; a missing one is not.
    BOOST_TEST(outcome("GET http://e.com/ HTTP/1.1\r\nHost:\r\n\r\n") == complete);
    BOOST_TEST(outcome("GET http://e.com/ HTTP/1.1\r\n\r\n") == 400);
    BOOST_TEST(outcome(req("", "GET ftp://e.com/ HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET http:///p HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET http://user@e.com/ HTTP/1.1")) == 400);
    BOOST_TEST(outcome(req("", "GET http:/e.com/ HTTP/1.1")) == 400);
}

BOOST_AUTO_TEST_CASE(leading_empty_lines_are_skipped_but_bounded) {
    const std::string wire = "\r\n\n\r\n" + req("");
    request r;
    const auto res = parse(wire, r);
    BOOST_TEST(res.state == parse_status::complete);
    BOOST_TEST(res.consumed == wire.size());
    BOOST_TEST(r.path == "/"sv);
    std::string many;
    for (int i = 0; i < 8; ++i) many += "\r\n";
    BOOST_TEST(outcome(many + req("")) == complete);
    BOOST_TEST(outcome(many + "\r\n" + req("")) == 400);
    BOOST_TEST(outcome("\r\r\n" + req("")) == 400);
    BOOST_TEST(outcome("\r\n\r\n") == need_more);
}

BOOST_AUTO_TEST_CASE(request_line_length_gives_414) {
    limits lim;
    lim.max_request_line = 32;
    const std::string exact = "GET /" + std::string(32 - 14, 'a') + " HTTP/1.1"; // 32 bytes
    BOOST_TEST(exact.size() == 32u);
    BOOST_TEST(outcome(req("", exact), lim) == complete);
    BOOST_TEST(outcome(req("", "GET /" + std::string(19, 'a') + " HTTP/1.1"), lim) == 414);
    // No line end yet, but already too long: answered at once, not after more input.
    BOOST_TEST(outcome("GET /" + std::string(40, 'a'), lim) == 414);
    BOOST_TEST(outcome("GET /" + std::string(20, 'a'), lim) == need_more);
    // Bare LF exactly at the boundary counts the same as CRLF.
    BOOST_TEST(outcome(exact + "\nHost: h\n\n", lim) == complete);
}

BOOST_AUTO_TEST_CASE(line_terminators_and_forbidden_bytes) {
    BOOST_TEST(outcome("GET / HTTP/1.1\nHost: h\n\n") == complete);
    BOOST_TEST(outcome("GET / HTTP/1.1\r\nHost: h\n\r\n") == complete);
    BOOST_TEST(outcome("GET / HTTP/1.1\rHost: h\r\n\r\n") == 400);
    BOOST_TEST(outcome("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n") == 400);
    BOOST_TEST(outcome("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n") == 400);
    BOOST_TEST(outcome("GET / HTTP/1.1\r\nHost: h\0\r\n\r\n"sv) == 400);
    BOOST_TEST(outcome("GET / HTTP/1.1\r\nHo\0st: h\r\n\r\n"sv) == 400);
    BOOST_TEST(outcome("GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n"sv) == 400);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_parser_fields)

BOOST_AUTO_TEST_CASE(values_lose_surrounding_ows_and_find_ignores_case) {
    request r;
    BOOST_TEST(parse(req("X-A: \t one two \t\r\nX-Empty:\r\nx-b:v\r\n"), r).state == parse_status::complete);
    BOOST_TEST(r.header_count == 4u);
    BOOST_TEST(r.find("x-a") == "one two"sv);
    BOOST_TEST(r.find("X-A") == "one two"sv);
    BOOST_TEST(r.find("X-B") == "v"sv);
    BOOST_TEST(r.find("x-empty").empty());
    BOOST_TEST(r.find("HOST") == "h"sv);
    BOOST_TEST(r.find("x-missing").data() == nullptr);
}

BOOST_AUTO_TEST_CASE(field_syntax_errors_are_400) {
    BOOST_TEST(outcome(with_header("X-A : v")) == 400);
    BOOST_TEST(outcome(with_header("X-A\t: v")) == 400);
    BOOST_TEST(outcome(with_header(": v")) == 400);
    BOOST_TEST(outcome(with_header("no-colon")) == 400);
    BOOST_TEST(outcome(with_header("X(A): v")) == 400);
    BOOST_TEST(outcome(with_header("X-A: v\r\n folded")) == 400);
    BOOST_TEST(outcome(with_header("X-A: v\r\n\tfolded")) == 400);
    BOOST_TEST(outcome("GET / HTTP/1.1\r\n Host: h\r\n\r\n") == 400);
    BOOST_TEST(outcome(with_header("X-A: a\x01z")) == 400);
    BOOST_TEST(outcome(with_header("X-A: a\x7fz")) == 400);
    BOOST_TEST(outcome(with_header("X-A: a\x1bz")) == 400);
    BOOST_TEST(outcome(with_header("X-A: caf\xc3\xa9\x80\xff")) == complete);
    BOOST_TEST(outcome(with_header("X-A: a\tb")) == complete);
}

BOOST_AUTO_TEST_CASE(header_count_limits_give_431) {
    limits lim;
    lim.max_headers = 3;
    BOOST_TEST(outcome(req("A: 1\r\nB: 2\r\n"), lim) == complete);
    BOOST_TEST(outcome(req("A: 1\r\nB: 2\r\nC: 3\r\n"), lim) == 431);
    // Without a final blank line the count is still enforced.
    BOOST_TEST(outcome("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n", lim) == 431);

    lim.max_headers = 1000; // the fixed slot array is the tighter bound
    std::string lines;
    for (std::size_t i = 0; i + 1 < max_header_slots; ++i) lines += "X: y\r\n";
    BOOST_TEST(outcome(req(lines), lim) == complete);
    BOOST_TEST(outcome(req(lines + "X: y\r\n"), lim) == 431);
}

BOOST_AUTO_TEST_CASE(head_size_limit_gives_431) {
    limits lim;
    lim.max_header_bytes = 64;
    const std::string base = req("X: ");
    const std::string exact = req("X: " + std::string(64 - base.size() - 2, 'v') + "\r\n");
    BOOST_TEST(exact.size() == 64u);
    BOOST_TEST(outcome(exact, lim) == complete);
    BOOST_TEST(outcome(req("X: " + std::string(64 - base.size() - 1, 'v') + "\r\n"), lim) == 431);
    // Early: 64 bytes and no end of head yet.
    BOOST_TEST(outcome(exact.substr(0, 63), lim) == need_more);
    BOOST_TEST(outcome("GET / HTTP/1.1\r\nHost: h\r\nX: " + std::string(60, 'v'), lim) == 431);
}

BOOST_AUTO_TEST_CASE(host_rules) {
    BOOST_TEST(outcome("GET / HTTP/1.1\r\n\r\n") == 400);
    BOOST_TEST(outcome("GET / HTTP/1.0\r\n\r\n") == complete);
    BOOST_TEST(outcome("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n") == 400);
    BOOST_TEST(outcome("GET / HTTP/1.1\r\nHost:\r\n\r\n") == 400);
    BOOST_TEST(outcome("GET / HTTP/1.1\r\nHost:   \r\n\r\n") == 400);
    BOOST_TEST(outcome(with_header("Host: b")) == 400); // second Host via helper
    const std::pair<std::string_view, int> values[] = {
        {"example.com", complete}, {"127.0.0.1:8184", complete}, {"[::1]:80", complete},
        {"[2001:db8::1]", complete}, {"ex%41mple.com", complete}, {"h:", complete},
        {"a b", 400}, {"a/b", 400}, {"[::1", 400}, {"[zz]", 400}, {"h:80x", 400},
        {"u@h", 400}, {"h:8:0", 400}, {"%4", 400}, {"h%zz", 400}, {":80", 400},
    };
    for (const auto& [value, expected] : values) {
        BOOST_TEST_CONTEXT(value) {
            BOOST_TEST(outcome("GET / HTTP/1.1\r\nHost: " + std::string(value) + "\r\n\r\n") == expected);
        }
    }
    request r;
    BOOST_TEST(parse("GET / HTTP/1.0\r\nHost: Old.Example\r\n\r\n", r).state == parse_status::complete);
    BOOST_TEST(r.host == "Old.Example"sv);
}

BOOST_AUTO_TEST_CASE(connection_tokens_set_keep_alive) {
    request r;
    BOOST_TEST(parse(req(""), r).state == parse_status::complete);
    BOOST_TEST(r.keep_alive);
    BOOST_TEST(parse(with_header("Connection: close"), r).state == parse_status::complete);
    BOOST_TEST(!r.keep_alive);
    BOOST_TEST(parse(with_header("Connection: Keep-Alive, CLOSE"), r).state == parse_status::complete);
    BOOST_TEST(!r.keep_alive);
    BOOST_TEST(parse(with_header("Connection: upgrade\r\nConnection: ,close,"), r).state == parse_status::complete);
    BOOST_TEST(!r.keep_alive);
    BOOST_TEST(parse(with_header("Connection: closed"), r).state == parse_status::complete);
    BOOST_TEST(r.keep_alive);
    BOOST_TEST(parse("GET / HTTP/1.0\r\n\r\n", r).state == parse_status::complete);
    BOOST_TEST(!r.keep_alive);
    BOOST_TEST(parse("GET / HTTP/1.0\r\nConnection: Upgrade, Keep-Alive\r\n\r\n", r).state == parse_status::complete);
    BOOST_TEST(r.keep_alive);
    BOOST_TEST(parse("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", r).state == parse_status::complete);
    BOOST_TEST(!r.keep_alive);
}

BOOST_AUTO_TEST_CASE(content_length_rules) {
    request r;
    BOOST_TEST(parse(with_header("Content-Length: 5"), r).state == parse_status::complete);
    BOOST_TEST(r.framing == body_framing::content_length);
    BOOST_TEST(r.content_length == 5u);
    BOOST_TEST(parse(with_header("content-length: 0"), r).state == parse_status::complete);
    BOOST_TEST(r.framing == body_framing::content_length);
    BOOST_TEST(r.content_length == 0u);
    BOOST_TEST(parse(with_header("Content-Length: 7, 7"), r).state == parse_status::complete);
    BOOST_TEST(r.content_length == 7u);
    BOOST_TEST(parse(with_header("Content-Length: 7\r\nContent-Length: 007"), r).state == parse_status::complete);
    BOOST_TEST(r.content_length == 7u);

    BOOST_TEST(outcome(with_header("Content-Length: +5")) == 400);
    BOOST_TEST(outcome(with_header("Content-Length: -1")) == 400);
    BOOST_TEST(outcome(with_header("Content-Length: 5 5")) == 400);
    BOOST_TEST(outcome(with_header("Content-Length:")) == 400);
    BOOST_TEST(outcome(with_header("Content-Length: 0x10")) == 400);
    BOOST_TEST(outcome(with_header("Content-Length: 5,")) == 400);
    BOOST_TEST(outcome(with_header("Content-Length: 5, 6")) == 400);
    BOOST_TEST(outcome(with_header("Content-Length: 5\r\nContent-Length: 6")) == 400);

    limits lim;
    lim.max_body = std::numeric_limits<std::uint64_t>::max();
    BOOST_TEST(parse(with_header("Content-Length: 18446744073709551615"), r, lim).state == parse_status::complete);
    BOOST_TEST(r.content_length == std::numeric_limits<std::uint64_t>::max());
    BOOST_TEST(outcome(with_header("Content-Length: 18446744073709551616"), lim) == 400);
    BOOST_TEST(outcome(with_header("Content-Length: 99999999999999999999999"), lim) == 400);

    lim.max_body = 100;
    BOOST_TEST(outcome(with_header("Content-Length: 100"), lim) == complete);
    BOOST_TEST(outcome(with_header("Content-Length: 101"), lim) == 413);
}

BOOST_AUTO_TEST_CASE(transfer_encoding_rules) {
    request r;
    BOOST_TEST(parse(with_header("Transfer-Encoding: chunked"), r).state == parse_status::complete);
    BOOST_TEST(r.framing == body_framing::chunked);
    BOOST_TEST(parse(with_header("transfer-encoding: Chunked"), r).state == parse_status::complete);
    BOOST_TEST(r.framing == body_framing::chunked);

    BOOST_TEST(outcome(with_header("Transfer-Encoding: gzip, chunked")) == 501);
    BOOST_TEST(outcome(with_header("Transfer-Encoding: identity, chunked")) == 501);
    BOOST_TEST(outcome(with_header("Transfer-Encoding: x-unknown, chunked")) == 501);
    BOOST_TEST(outcome(with_header("Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked")) == 501);
    // chunked not final: RFC 9112 §6.3 says MUST answer 400.
    BOOST_TEST(outcome(with_header("Transfer-Encoding: gzip")) == 400);
    BOOST_TEST(outcome(with_header("Transfer-Encoding: chunked, gzip")) == 400);
    BOOST_TEST(outcome(with_header("Transfer-Encoding: chunked, chunked")) == 400);
    BOOST_TEST(outcome(with_header("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked")) == 400);
    BOOST_TEST(outcome(with_header("Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip")) == 400);
    BOOST_TEST(outcome(with_header("Transfer-Encoding:")) == 400);
    BOOST_TEST(outcome(with_header("Transfer-Encoding: chunked;q=1")) == 400);
    // TE with CL, in either order, and TE on HTTP/1.0.
    BOOST_TEST(outcome(with_header("Transfer-Encoding: chunked\r\nContent-Length: 5")) == 400);
    BOOST_TEST(outcome(with_header("Content-Length: 5\r\nTransfer-Encoding: chunked")) == 400);
    BOOST_TEST(outcome("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n") == 400);
}

BOOST_AUTO_TEST_CASE(expect_rules) {
    request r;
    BOOST_TEST(parse(with_header("Expect: 100-continue"), r).state == parse_status::complete);
    BOOST_TEST(r.expect_continue);
    BOOST_TEST(parse(with_header("expect:  100-Continue "), r).state == parse_status::complete);
    BOOST_TEST(r.expect_continue);
    BOOST_TEST(parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", r).state == parse_status::complete);
    BOOST_TEST(!r.expect_continue);
    BOOST_TEST(outcome(with_header("Expect: 200-ok")) == 417);
    BOOST_TEST(outcome(with_header("Expect: 100-continue, x")) == 417);
    BOOST_TEST(outcome(with_header("Expect:")) == 417);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_parser_streams)

BOOST_AUTO_TEST_CASE(pipeline_consumed_points_at_the_next_request) {
    const std::string first = "POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
    const std::string second = "GET /b?c HTTP/1.1\r\nHost: h\r\n\r\n";
    const std::string wire = first + "abc" + second + second;
    request r;
    auto res = parse(wire, r);
    BOOST_TEST(res.state == parse_status::complete);
    BOOST_TEST(res.consumed == first.size());
    BOOST_TEST(r.content_length == 3u);
    const std::string_view rest = std::string_view(wire).substr(res.consumed + r.content_length);
    res = parse(rest, r);
    BOOST_TEST(res.state == parse_status::complete);
    BOOST_TEST(res.consumed == second.size());
    BOOST_TEST(r.path == "/b"sv);
    BOOST_TEST(r.query == "c"sv);
    BOOST_TEST(r.path.data() == rest.data() + 4); // views point into the caller's buffer
}

BOOST_AUTO_TEST_CASE(every_prefix_of_a_valid_head_needs_more) {
    const std::string heads[] = {
        "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8184\r\n\r\n",
        "\r\nPOST /p?q HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nConnection: close\r\n\r\n",
        "GET / HTTP/1.0\nX: y\n\n",
        "OPTIONS * HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
    };
    for (const auto& head : heads) {
        int wrong = 0;
        for (std::size_t k = 0; k < head.size(); ++k)
            if (outcome(std::string_view(head).substr(0, k)) != need_more) ++wrong;
        BOOST_TEST_CONTEXT(head) {
            BOOST_TEST(wrong == 0);
            request r;
            const auto res = parse(head + "GET", r);
            BOOST_TEST(res.state == parse_status::complete);
            BOOST_TEST(res.consumed == head.size());
        }
    }
}

BOOST_AUTO_TEST_CASE(parser_never_reads_past_the_span) {
    // The head sits at the end of a larger buffer; a shorter span must not see the rest.
    const std::string wire = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    BOOST_TEST(outcome(std::string_view(wire).substr(0, wire.size() - 1)) == need_more);
    BOOST_TEST(outcome(std::string_view(wire).substr(0, wire.size() - 2)) == need_more);
    BOOST_TEST(outcome({}) == need_more);
}

BOOST_AUTO_TEST_CASE(micro_benchmark_reports_ns_per_parse) {
    const std::string_view wire = "GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1:8184\r\n\r\n";
    request r;
    constexpr int rounds = 200000;
    std::size_t sink = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < rounds; ++i) sink += parse(wire, r).consumed;
    const auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - start).count();
    BOOST_TEST(sink == wire.size() * rounds);
    BOOST_TEST_MESSAGE("parse_request: " << ns / rounds << " ns per wrk-style request (not asserted)");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(http_normalize_path)

BOOST_AUTO_TEST_CASE(dot_segments) {
    BOOST_TEST(norm("/") == "/");
    BOOST_TEST(norm("/a/b") == "/a/b");
    BOOST_TEST(norm("/a/../b") == "/b");
    BOOST_TEST(norm("/..") == "/");
    BOOST_TEST(norm("/../../etc/passwd") == "/etc/passwd");
    BOOST_TEST(norm("/a/./b") == "/a/b");
    BOOST_TEST(norm("/a/.") == "/a/");
    BOOST_TEST(norm("/a/..") == "/");
    BOOST_TEST(norm("/a/b/..") == "/a/");
    BOOST_TEST(norm("/.") == "/");
    BOOST_TEST(norm("/a/b/c/./../../g") == "/a/g"); // RFC 3986 §5.2.4 example
    BOOST_TEST(norm("/a/.../b") == "/a/.../b");
    BOOST_TEST(norm("/.a/..b/c.") == "/.a/..b/c.");
    BOOST_TEST(norm("/a//../b") == "/a/b");
}

BOOST_AUTO_TEST_CASE(percent_decoding_happens_once) {
    BOOST_TEST(norm("/%2e%2e/x") == "/x");
    BOOST_TEST(norm("/%2E%2E/%2e/x") == "/x");
    BOOST_TEST(norm("/a/..%2f..%2fetc") == "/etc");
    BOOST_TEST(norm("/a%2Fb") == "/a/b");
    BOOST_TEST(norm("/%252e%252e/x") == "/%2e%2e/x");
    BOOST_TEST(norm("/%41%7e") == "/A~");
    BOOST_TEST(norm("/caf%C3%A9") == "/caf\xc3\xa9");
}

BOOST_AUTO_TEST_CASE(refusals) {
    BOOST_TEST(norm("/%00") == "ERR");
    BOOST_TEST(norm("/a%2") == "ERR");
    BOOST_TEST(norm("/a%") == "ERR");
    BOOST_TEST(norm("/a%zz") == "ERR");
    BOOST_TEST(norm("/a%g0") == "ERR");
    BOOST_TEST(norm("a/b") == "ERR");
    BOOST_TEST(norm("") == "ERR");
    BOOST_TEST(norm("%2fa") == "ERR");
    BOOST_TEST(norm("/a\x01") == "ERR");
    BOOST_TEST(norm("/a\0b"sv) == "ERR");
    char small[2];
    BOOST_TEST(normalize_path("/abc", {small, sizeof small}) == -1);
}

BOOST_AUTO_TEST_CASE(empty_segments_and_backslash_stay_literal) {
    BOOST_TEST(norm("//") == "//");
    BOOST_TEST(norm("//a//b") == "//a//b");
    BOOST_TEST(norm("/a\\..\\b") == "/a\\..\\b");
    BOOST_TEST(norm("/a/%5c..%5c") == "/a/\\..\\");
}

BOOST_AUTO_TEST_CASE(a_byte_to_act_on_is_seen_at_every_position_of_long_paths) {
    // Paths with nothing to decode or remove are copied eight bytes at a time: a control
    // byte, a '%' or a dot-segment in any position of any word must still be acted on.
    for (std::size_t len = 2; len <= 26; ++len)
        for (std::size_t at = 1; at < len; ++at) {
            std::string path(len, 'x');
            path[0] = '/';
            BOOST_TEST(norm(path) == path);
            std::string control = path;
            control[at] = '\x1f';
            BOOST_TEST(norm(control) == "ERR", control);
            std::string encoded = path;
            encoded.replace(at, 1, "%41");
            std::string decoded = path;
            decoded[at] = 'A';
            BOOST_TEST(norm(encoded) == decoded, encoded);
            std::string dots = path;
            dots.insert(at, "/../");
            std::string kept = path;
            kept.erase(0, at);
            kept.insert(0, 1, '/');
            BOOST_TEST(norm(dots) == kept, dots);
        }
}

BOOST_AUTO_TEST_CASE(in_place) {
    std::string buf = "/a/b/%2e%2e/c/./d/..";
    const long n = normalize_path(buf, {buf.data(), buf.size()});
    BOOST_TEST(n == 5);
    BOOST_TEST(buf.substr(0, 5) == "/a/c/");
}

BOOST_AUTO_TEST_SUITE_END()
