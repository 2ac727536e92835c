// The connection state machine fed from bytes, with no sockets.
#include <boost/test/unit_test.hpp>

#include <string>

#include "tests/unit/worker/env_fixture.hpp"
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

/// A source that produces nothing by itself: the tests play the connection's part.
struct idle_source final : body_source {
    void proceed(source_context&) override {}
    void on_completion(source_context&, std::uint8_t, const io_uring_cqe&) override {}
    void stop(source_context&) noexcept override {}
    [[nodiscard]] bool busy() const noexcept override { return false; }
};

/// A route that takes its bodies as a stream, as the proxy does.
struct streaming_route final : worker::handler {
    int calls = 0;
    bool streamed = false;
    void handle(const request_view& req, http::response_writer&, deferred& later) override
    {
        ++calls;
        streamed = req.body_streamed;
        later.source = std::make_unique<idle_source>();
    }
    [[nodiscard]] bool streams_body() const noexcept override { return true; }
};

struct fixture : test::worker_env_parts {
    app_route plain{plaintext};
    echo_body echo;
    bad_header_then_body bad;
    streaming_route up;
    http_session session;
    net::byte_buffer out;

    fixture()
    {
        BOOST_REQUIRE(routes.add("/plaintext", get_head, &plain).empty());
        BOOST_REQUIRE(routes.add("/echo", bit(http::method::post), &echo).empty());
        BOOST_REQUIRE(routes.add("/bad", get_head, &bad).empty());
        BOOST_REQUIRE(routes.add_prefix("/up/", get_head | bit(http::method::post) | bit(http::method::put), &up).empty());
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

// Streamed request bodies: the session's half of the seam, without sockets. The
// connection's half (cancelling and re-arming the receive) is in the process tests.

namespace {

std::string pattern(std::size_t n, std::size_t from = 0)
{
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i)
        s[i] = static_cast<char>('a' + (from + i) % 23);
    return s;
}

/// Takes everything available, resuming the session after each take as the connection
/// does, until the body is complete or nothing more comes.
std::string drain(fixture& f, std::size_t step = 7000)
{
    std::string got;
    for (int guard = 0; guard < 100000; ++guard) {
        net::byte_buffer into;
        if (f.session.take_body(into, step) == 0)
            break;
        got.append(into.data(), into.size());
        (void)f.session.resume(f.out, f.env, 0);
    }
    return got;
}

} // namespace

BOOST_FIXTURE_TEST_CASE(streamed_body_is_dispatched_at_its_head_through_a_bounded_window, fixture)
{
    const std::size_t total = 200'000;
    const std::string body = pattern(total);
    (void)feed("POST /up/x HTTP/1.1\r\nHost: a\r\nContent-Length: 200000\r\n\r\n" + body.substr(0, 10));
    BOOST_TEST(up.calls == 1); // before the body is in
    BOOST_TEST(up.streamed);
    BOOST_REQUIRE(session.take_source());
    BOOST_TEST(session.body().streamed);
    BOOST_TEST(session.body().available == 10u);
    BOOST_TEST(!session.body().complete);
    BOOST_TEST(session.take_body_event());
    BOOST_TEST(!session.take_body_event());
    // More than the window arrives: the window fills, the rest is held, input pauses.
    (void)feed(body.substr(10, 100'000));
    BOOST_TEST(session.body().available == http_session::stream_window);
    BOOST_TEST(session.input_paused());
    BOOST_TEST(session.buffered() == 100'010 - http_session::stream_window);
    BOOST_TEST(session.streaming());
    // The source takes some: the held input fills the room, and input flows again.
    std::string got = drain(*this);
    BOOST_TEST(!session.input_paused());
    BOOST_TEST(session.buffered() == 0u);
    BOOST_TEST(got.size() == 100'010u);
    (void)feed(body.substr(100'010));
    got += drain(*this);
    BOOST_TEST(session.body().complete);
    BOOST_TEST(session.body().taken == total);
    BOOST_TEST((got == body));
    BOOST_TEST(output().empty()); // the session wrote nothing: the source answers
    BOOST_TEST(up.calls == 1);
}

BOOST_FIXTURE_TEST_CASE(chunked_streamed_body_then_a_pipelined_request_waits, fixture)
{
    const std::string req = "PUT /up/y HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                            "5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: x\r\n\r\n"
                            "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n";
    for (std::size_t i = 0; i < req.size(); i += 5)
        (void)feed(req.substr(i, 5));
    auto source = session.take_source();
    BOOST_REQUIRE(source);
    BOOST_TEST(session.body().complete);
    BOOST_TEST(drain(*this) == "hello world");
    BOOST_TEST(output().empty()); // the GET waits behind the source
    session.source_done(*source, env);
    (void)session.resume(out, env, 0);
    BOOST_TEST(output().find("Hello, World!") != std::string::npos);
    BOOST_TEST(!session.closed());
}

BOOST_FIXTURE_TEST_CASE(small_body_is_complete_when_the_source_starts, fixture)
{
    (void)feed("POST /up/z HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello");
    BOOST_REQUIRE(session.take_source());
    BOOST_TEST(session.body().complete);
    BOOST_TEST(session.body().available == 5u);
    BOOST_TEST(!session.streaming());
}

BOOST_FIXTURE_TEST_CASE(a_bad_chunk_breaks_the_stream_off, fixture)
{
    (void)feed("POST /up/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
    BOOST_REQUIRE(session.take_source());
    BOOST_TEST(session.body().available == 5u);
    BOOST_TEST(int(feed("zz\r\nGET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n")) ==
               int(http_session::verdict::close_after_send));
    BOOST_TEST(session.body().error == 400u);
    BOOST_TEST(!session.body().complete);
    BOOST_TEST(session.closed());
    BOOST_TEST(stats.parse_errors == 1u);
    BOOST_TEST(session.take_body_event());
    BOOST_TEST(output().empty()); // the source answers 400, or closes if it began a response
}

BOOST_FIXTURE_TEST_CASE(a_chunked_body_over_max_body_breaks_off_with_413, fixture)
{
    settings.limits.max_body = 8;
    (void)feed("POST /up/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n5\r\nworld\r\n");
    BOOST_REQUIRE(session.take_source());
    BOOST_TEST(session.body().error == 413u);
}

BOOST_FIXTURE_TEST_CASE(smuggling_heads_never_reach_a_streaming_route, fixture)
{
    for (const char* head : {
             "POST /up/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
             "POST /up/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
             "POST /up/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
             "POST /up/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
             "POST /up/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
             "POST /up/x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
             "POST /up/x HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
             "POST /up/x HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n",
         }) {
        fixture f;
        (void)f.feed(std::string(head) + "hello");
        BOOST_TEST(f.up.calls == 0, head);
        BOOST_TEST(!f.session.take_source(), head);
        BOOST_TEST((f.output().starts_with("HTTP/1.1 400") || f.output().starts_with("HTTP/1.1 501")), head);
        BOOST_TEST(f.session.closed(), head);
    }
}

BOOST_FIXTURE_TEST_CASE(a_client_that_stops_mid_body_breaks_it_off, fixture)
{
    (void)feed("POST /up/x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nhalf");
    BOOST_REQUIRE(session.take_source());
    session.end_of_input(env);
    BOOST_TEST(session.body().error == 400u);
    BOOST_TEST(session.take_body_event());
    BOOST_TEST(session.closed());
}

BOOST_FIXTURE_TEST_CASE(answered_before_the_body_was_in_closes_after_the_answer, fixture)
{
    (void)feed("POST /up/x HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nhalf");
    auto source = session.take_source();
    BOOST_REQUIRE(source);
    session.source_done(*source, env);
    BOOST_TEST(session.closed());
    BOOST_TEST(int(feed(pattern(96) + "GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n")) ==
               int(http_session::verdict::close_after_send));
    BOOST_TEST(output().empty());
}

BOOST_FIXTURE_TEST_CASE(a_closing_request_keeps_its_held_body, fixture)
{
    const std::string body = pattern(100'000);
    const auto v = feed("POST /up/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 100000\r\n\r\n" + body);
    BOOST_TEST(int(v) == int(http_session::verdict::close_after_send));
    BOOST_REQUIRE(session.take_source());
    BOOST_TEST(session.input_paused());
    BOOST_TEST((drain(*this) == body));
    BOOST_TEST(session.body().complete);
}

BOOST_FIXTURE_TEST_CASE(expect_continue_on_a_streamed_body, fixture)
{
    (void)feed("POST /up/x HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    BOOST_TEST(output() == "HTTP/1.1 100 Continue\r\n\r\n");
    BOOST_REQUIRE(session.take_source());
    (void)feed("ok");
    BOOST_TEST(drain(*this) == "ok");
    BOOST_TEST(session.body().complete);
}

BOOST_FIXTURE_TEST_CASE(bodiless_requests_to_a_streaming_route_are_not_streamed, fixture)
{
    (void)feed("GET /up/x HTTP/1.1\r\nHost: a\r\n\r\n");
    BOOST_TEST(up.calls == 1);
    BOOST_TEST(!up.streamed);
    BOOST_REQUIRE(session.take_source());
    BOOST_TEST(!session.body().streamed);
}

BOOST_AUTO_TEST_SUITE_END()
