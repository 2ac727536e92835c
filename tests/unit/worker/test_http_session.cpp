// The connection state machine fed from bytes, with no sockets.
#include <boost/test/unit_test.hpp>

#include <string>

#include "worker/app_route.hpp"
#include "worker/demo.hpp"
#include "worker/file_cache.hpp"
#include "worker/http_session.hpp"

using namespace ringfork;
using namespace ringfork::worker;

namespace {

struct echo_body final : worker::handler {
    void handle(const request_view& req, http::response_writer& w, deferred&) override
    {
        w.start(200);
        w.finish({req.body.data(), req.body.size()});
    }
};

/// Writes a head with a header the writer refuses, then asks for a body to be streamed.
struct bad_header_then_body final : worker::handler {
    std::shared_ptr<open_file> file = std::make_shared<open_file>();
    void handle(const request_view&, http::response_writer& w, deferred& later) override
    {
        w.start(200);
        w.header("X-Name", "a\r\nSet-Cookie: x=1");
        w.finish_head(100);
        later.file.file = file;
        later.file.length = 100;
    }
};

struct fixture {
    app_route plain{plaintext};
    echo_body echo;
    bad_header_then_body bad;
    router routes;
    http::date_cache date;
    ipc::worker_settings settings;
    ipc::worker_stats stats;
    std::string scratch;
    worker_env env{routes, date, settings, stats, scratch};
    http_session session;
    net::byte_buffer out;

    fixture()
    {
        BOOST_REQUIRE(routes.add("/plaintext", get_head, &plain).empty());
        BOOST_REQUIRE(routes.add("/echo", bit(http::method::post), &echo).empty());
        BOOST_REQUIRE(routes.add("/bad", get_head, &bad).empty());
        date.update(0);
    }
    http_session::verdict feed(std::string s) { return session.on_data({s.data(), s.size()}, out, env, 0); }
    std::string output() { return std::string(out.data(), out.size()); }
    static std::size_t count(const std::string& hay, const std::string& needle)
    {
        std::size_t n = 0;
        for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1))
            ++n;
        return n;
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(http_session_suite)

BOOST_FIXTURE_TEST_CASE(pipelined_requests_answer_in_order, fixture)
{
    std::string req;
    for (int i = 0; i < 16; ++i)
        req += i % 2 ? "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n" : "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n";
    BOOST_TEST(int(feed(req)) == int(http_session::verdict::keep_open));
    const std::string o = output();
    BOOST_TEST(count(o, "HTTP/1.1 200 OK") == 8u);
    BOOST_TEST(count(o, "HTTP/1.1 404 Not Found") == 8u);
    BOOST_TEST(o.find("200 OK") < o.find("404"));
    BOOST_TEST(stats.requests == 16u);
    BOOST_TEST(!session.mid_request());
}

BOOST_FIXTURE_TEST_CASE(request_split_across_every_byte, fixture)
{
    const std::string req = "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n";
    for (char ch : req)
        (void)feed(std::string(1, ch));
    BOOST_TEST(count(output(), "Hello, World!") == 1u);
    BOOST_TEST(!session.mid_request());
}

BOOST_FIXTURE_TEST_CASE(rejected_header_answers_500_streams_nothing_and_closes, fixture)
{
    const auto v = feed("GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\nHost: a\r\n\r\n"
                        "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
    BOOST_TEST(int(v) == int(http_session::verdict::close_after_send));
    const std::string s = output();
    BOOST_TEST(count(s, "HTTP/1.1 200 OK") == 1u); // the request after the 500 is not answered
    BOOST_TEST(s.ends_with("Connection: close\r\n\r\nInternal Server Error\n"));
    BOOST_TEST(s.find("Set-Cookie") == std::string::npos);
    BOOST_TEST(!session.waiting()); // no body source was started
    BOOST_TEST(stats.responses_by_class[5] == 1u);
}

BOOST_FIXTURE_TEST_CASE(bad_request_after_good_ones_closes, fixture)
{
    const auto v = feed("GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"
                        "GET /plaintext HTTP/9\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
    BOOST_TEST(int(v) == int(http_session::verdict::close_after_send));
    const std::string o = output();
    BOOST_TEST(count(o, "HTTP/1.1 200") == 1u);
    BOOST_TEST(count(o, "HTTP/1.1 404") == 1u);
    BOOST_TEST(count(o, "400 Bad Request") == 1u);
    BOOST_TEST(o.ends_with("Bad Request\n"));
    BOOST_TEST(session.closed());
}

BOOST_FIXTURE_TEST_CASE(content_length_body_is_not_a_request, fixture)
{
    (void)feed("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 27\r\n\r\n");
    BOOST_TEST(output().empty());
    BOOST_TEST(session.in_body());
    (void)feed("GET /plaintext HTTP/1.1\r\n\r\nGET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
    const std::string o = output();
    BOOST_TEST(count(o, "HTTP/1.1 200 OK") == 2u);
    BOOST_TEST(o.find("Content-Length: 27\r\n\r\nGET /plaintext HTTP/1.1\r\n\r\n") != std::string::npos);
    BOOST_TEST(count(o, "Hello, World!") == 1u);
}

BOOST_FIXTURE_TEST_CASE(chunked_body_decoded_across_pieces, fixture)
{
    const std::string req = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n";
    for (std::size_t i = 0; i < req.size(); i += 7)
        (void)feed(req.substr(i, 7));
    BOOST_TEST(output().ends_with("Content-Length: 11\r\n\r\nhello world"));
    BOOST_TEST(!session.mid_request());
}

BOOST_FIXTURE_TEST_CASE(expect_continue_gets_interim_response, fixture)
{
    (void)feed("POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    BOOST_TEST(output() == "HTTP/1.1 100 Continue\r\n\r\n");
    (void)feed("ok");
    BOOST_TEST(output().ends_with("\r\n\r\nok"));
    BOOST_TEST(count(output(), "100 Continue") == 1u);
}

BOOST_FIXTURE_TEST_CASE(method_rules, fixture)
{
    (void)feed("POST /plaintext HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
               "BREW /plaintext HTTP/1.1\r\nHost: a\r\n\r\nHEAD /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
    const std::string o = output();
    BOOST_TEST(o.find("405 Method Not Allowed") != std::string::npos);
    BOOST_TEST(o.find("Allow: GET, HEAD\r\n") != std::string::npos);
    BOOST_TEST(o.find("501 Not Implemented") != std::string::npos);
    BOOST_TEST(o.ends_with("Content-Length: 13\r\n\r\n")); // HEAD: no body
}

BOOST_FIXTURE_TEST_CASE(connection_close_and_http10, fixture)
{
    BOOST_TEST(int(feed("GET /plaintext HTTP/1.0\r\n\r\n")) == int(http_session::verdict::close_after_send));
    BOOST_TEST(output().starts_with("HTTP/1.1 200 OK"));
    BOOST_TEST(output().find("Connection: close") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(draining_answers_with_close, fixture)
{
    env.draining = true;
    BOOST_TEST(int(feed("GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n")) == int(http_session::verdict::close_after_send));
    BOOST_TEST(output().find("Connection: close\r\n") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(dot_segments_are_resolved_before_routing, fixture)
{
    (void)feed("GET /a/../plaintext HTTP/1.1\r\nHost: a\r\n\r\nGET /%70laintext HTTP/1.1\r\nHost: a\r\n\r\n");
    BOOST_TEST(count(output(), "Hello, World!") == 2u);
    (void)feed("GET /plain%00text HTTP/1.1\r\nHost: a\r\n\r\n");
    BOOST_TEST(output().find("400 Bad Request") != std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(timeout_writes_408, fixture)
{
    (void)feed("GET /plaintext HTT");
    BOOST_TEST(session.mid_request());
    session.timeout(out, env);
    BOOST_TEST(output().find("408 Request Timeout") != std::string::npos);
    BOOST_TEST(output().find("Connection: close") != std::string::npos);
    BOOST_TEST(session.closed());
    BOOST_TEST(stats.timeouts == 1u);
}

BOOST_FIXTURE_TEST_CASE(output_high_water_holds_back_input, fixture)
{
    std::string many;
    while (many.size() < 2 * http_session::output_high_water)
        many += "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n";
    (void)feed(many);
    const auto first = stats.requests;
    BOOST_TEST(first > 0u);
    BOOST_TEST(session.mid_request()); // rest held back
    out.clear();
    (void)session.resume(out, env, 0);
    BOOST_TEST(stats.requests > first);
}

BOOST_AUTO_TEST_SUITE_END()
