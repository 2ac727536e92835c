// Re-framing for the proxy: the head sent upstream and the head sent to the client.
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstring>
#include <string>

#include "net/http_parser.hpp"
#include "net/http_response_parser.hpp"
#include "worker/proxy_framing.hpp"

using namespace ringfork;
using namespace ringfork::worker;

BOOST_TEST_DONT_PRINT_LOG_VALUE(ringfork::worker::client_body)

namespace {

net::peer_ip client_ip(const char* text)
{
    net::peer_ip p;
    p.family = AF_INET;
    BOOST_REQUIRE(inet_pton(AF_INET, text, p.bytes) == 1);
    return p;
}

/// The upstream head for a client request (its views kept alive by `wire`).
std::string upstream_head(const std::string& wire, const char* peer = "10.0.0.7")
{
    http::request req;
    const auto r = http::parse_request({wire.data(), wire.size()}, req, http::limits{});
    BOOST_REQUIRE(r.state == http::parse_status::complete);
    net::byte_buffer out;
    write_upstream_head(req, client_ip(peer), "app", out);
    finish_upstream_head(out, upstream_body::none);
    return {out.data(), out.size()};
}

struct client_side {
    std::string head;
    client_body framing = client_body::none;
};

client_side client_head(const std::string& upstream, http::response_context cx = {}, bool head_request = false)
{
    http::response_head h;
    const auto r = http::parse_response({upstream.data(), upstream.size()}, h, head_request);
    BOOST_REQUIRE(r.state == http::response_parse::complete);
    http::date_cache date;
    date.update(0);
    net::byte_buffer out;
    http::response_writer w(out, date, cx);
    client_side c;
    c.framing = write_client_head(h, w);
    c.head.assign(out.data(), out.size());
    return c;
}

bool has_line(const std::string& head, const std::string& line)
{
    return head.find("\r\n" + line + "\r\n") != std::string::npos;
}

bool mentions(const std::string& head, const char* text)
{
    std::string lower = head;
    for (char& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return lower.find(text) != std::string::npos;
}

} // namespace

BOOST_AUTO_TEST_SUITE(proxy_framing)

BOOST_AUTO_TEST_CASE(request_line_and_host)
{
    std::string h = upstream_head("GET /a/b?x=1 HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\n\r\n");
    BOOST_TEST(h.starts_with("GET /a/b?x=1 HTTP/1.1\r\nHost: example.org\r\n"));
    BOOST_TEST(has_line(h, "Accept: */*"));
    BOOST_TEST(h.ends_with("\r\n\r\n"));
    // Absolute-form: origin-form upstream, its authority as Host.
    h = upstream_head("GET http://other.org:8080/p?q HTTP/1.1\r\nHost: example.org\r\n\r\n");
    BOOST_TEST(h.starts_with("GET /p?q HTTP/1.1\r\nHost: other.org:8080\r\n"));
    // HTTP/1.0 without Host: the upstream's name, and HTTP/1.1 upstream.
    h = upstream_head("GET / HTTP/1.0\r\n\r\n");
    BOOST_TEST(h.starts_with("GET / HTTP/1.1\r\nHost: app\r\n"));
    BOOST_TEST(!mentions(h, "x-forwarded-host"));
}

BOOST_AUTO_TEST_CASE(hop_by_hop_fields_are_dropped)
{
    const std::string h = upstream_head("POST /x HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Private, Upgrade\r\n"
                                        "X-Private: secret\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\nUpgrade: ws\r\n"
                                        "Proxy-Authorization: Basic x\r\nProxy-Connection: keep-alive\r\n"
                                        "Trailer: X-T\r\nExpect: 100-continue\r\nContent-Length: 3\r\n"
                                        "X-Kept: yes\r\n\r\n");
    for (const char* gone : {"connection:", "x-private", "keep-alive:", "\nte:", "upgrade", "proxy-", "trailer",
                             "expect", "content-length"})
        BOOST_TEST(!mentions(h, gone), gone);
    BOOST_TEST(has_line(h, "X-Kept: yes"));
}

BOOST_AUTO_TEST_CASE(forwarding_fields)
{
    std::string h = upstream_head("GET / HTTP/1.1\r\nHost: site\r\nX-Forwarded-For: 1.1.1.1\r\n"
                                  "X-Forwarded-For: 2.2.2.2, 3.3.3.3\r\nX-Forwarded-Proto: https\r\n"
                                  "X-Forwarded-Host: evil\r\n\r\n");
    BOOST_TEST(has_line(h, "X-Forwarded-For: 1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.7"));
    BOOST_TEST(has_line(h, "X-Forwarded-Proto: http"));
    BOOST_TEST(has_line(h, "X-Forwarded-Host: site"));
    BOOST_TEST(!mentions(h, "https"));
    BOOST_TEST(!mentions(h, "evil"));
    // A client may not make ringfork drop Host by naming it in Connection.
    h = upstream_head("GET / HTTP/1.1\r\nHost: site\r\nConnection: Host, X-Forwarded-For\r\n\r\n");
    BOOST_TEST(h.find("\r\nHost: site\r\n") != std::string::npos);
    BOOST_TEST(has_line(h, "X-Forwarded-For: 10.0.0.7"));
}

BOOST_AUTO_TEST_CASE(request_body_framing)
{
    net::byte_buffer out;
    finish_upstream_head(out, upstream_body::length, 1234);
    BOOST_TEST(std::string(out.data(), out.size()) == "Content-Length: 1234\r\n\r\n");
    out.clear();
    finish_upstream_head(out, upstream_body::chunked);
    BOOST_TEST(std::string(out.data(), out.size()) == "Transfer-Encoding: chunked\r\n\r\n");
    out.clear();
    append_chunk_line(out, 0x1a2b);
    BOOST_TEST(std::string(out.data(), out.size()) == "1a2b\r\n");
}

BOOST_AUTO_TEST_CASE(client_head_from_the_upstream)
{
    const auto c = client_head("HTTP/1.1 418 I'm a teapot\r\nServer: up/1\r\nDate: x\r\nContent-Length: 5\r\n"
                               "Connection: X-Hop\r\nX-Hop: 1\r\nKeep-Alive: timeout=5\r\nSet-Cookie: a=b\r\n\r\n");
    BOOST_TEST(c.framing == client_body::length);
    BOOST_TEST(c.head.starts_with("HTTP/1.1 418 I'm a teapot\r\nServer: ringfork\r\nDate: "));
    BOOST_TEST(has_line(c.head, "Set-Cookie: a=b"));
    BOOST_TEST(has_line(c.head, "Content-Length: 5"));
    for (const char* gone : {"up/1", "x-hop", "keep-alive", "connection"})
        BOOST_TEST(!mentions(c.head, gone), gone);
    BOOST_TEST(client_head("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n").head.starts_with("HTTP/1.1 200 OK\r\n"));
}

BOOST_AUTO_TEST_CASE(client_framing_chosen_by_ringfork)
{
    // Unknown length: re-chunked for HTTP/1.1, close-delimited for HTTP/1.0.
    auto c = client_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    BOOST_TEST(c.framing == client_body::chunked);
    BOOST_TEST(has_line(c.head, "Transfer-Encoding: chunked"));
    c = client_head("HTTP/1.0 200 OK\r\nX: y\r\n\r\n");
    BOOST_TEST(c.framing == client_body::chunked);
    c = client_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", {0, true, false});
    BOOST_TEST(c.framing == client_body::close);
    BOOST_TEST(!mentions(c.head, "transfer-encoding"));
    BOOST_TEST(has_line(c.head, "Connection: close"));
    // No body: HEAD keeps the length the GET would have; 204 and 304 carry none.
    c = client_head("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", {1, true, true}, true);
    BOOST_TEST(c.framing == client_body::none);
    BOOST_TEST(has_line(c.head, "Content-Length: 99"));
    c = client_head("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n");
    BOOST_TEST(c.framing == client_body::none);
    BOOST_TEST(!mentions(c.head, "content-length"));
    BOOST_TEST(c.head.ends_with("ETag: \"x\"\r\n\r\n"));
    c = client_head("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
    BOOST_TEST(!mentions(c.head, "content-length"));
}

BOOST_AUTO_TEST_SUITE_END()
