// A library handler as a route, without a loop: the responder answers once (a second
// answer is ignored), a dropped responder and a thrown exception give 500, a stream
// written whole in the handler is framed and ended, and a responder kept past the handler
// leaves a body source for the answer to come.
#include <boost/test/unit_test.hpp>

#include <functional>
#include <stdexcept>
#include <string>

#include "net/http_parser.hpp"
#include "ringfork/app.hpp"
#include "tests/unit/worker/env_fixture.hpp"
#include "worker/app_route.hpp"
#include "worker/app_tasks.hpp"

using namespace ringfork;
using namespace ringfork::worker;

namespace {

using result = test::handler_result;

/// One GET through `fn` as a route.
result run(ringfork::handler fn)
{
    test::worker_env_parts parts;
    parts.date.update(0);
    http::request req;
    req.verb = http::method::get;
    req.method_text = "GET";
    req.target = "/x";
    req.path = "/x";
    req.version_minor = 1;
    net::byte_buffer out;
    http::response_context ctx;
    ctx.version_minor = 1;
    http::response_writer w(out, parts.date, ctx);
    request_view view{req, req.path, {}};
    view.env = &parts.env;
    app_route route(std::move(fn));
    result r;
    route.handle(view, w, r.later);
    r.wire.assign(out.data(), out.size());
    return r;
}

void answer_plain(ringfork::request&, ringfork::responder res) { res.send(200, "text/plain", "fn"); }

} // namespace

BOOST_AUTO_TEST_SUITE(app_route_suite)

BOOST_AUTO_TEST_CASE(a_handler_is_any_callable_and_copies_share_it)
{
    BOOST_TEST(run(answer_plain).body() == "fn");
    BOOST_TEST(run(&answer_plain).body() == "fn");
    BOOST_TEST(run(std::function<void(ringfork::request&, ringfork::responder)>(answer_plain)).body() == "fn");
    ringfork::handler counting = [calls = 0](ringfork::request&, ringfork::responder res) mutable {
        ++calls;
        res.send(200, "text/plain", std::to_string(calls));
    };
    const ringfork::handler copy = counting;
    BOOST_TEST(run(counting).body() == "1");
    BOOST_TEST(run(copy).body() == "2"); // one callable: its state is shared
}

BOOST_AUTO_TEST_CASE(an_empty_function_or_a_null_pointer_is_an_empty_handler_and_refused)
{
    using fn = void(ringfork::request&, ringfork::responder);
    BOOST_TEST(!ringfork::handler());
    BOOST_TEST(!ringfork::handler(std::function<fn>()));
    BOOST_TEST(!ringfork::handler(static_cast<fn*>(nullptr)));
    BOOST_TEST(static_cast<bool>(ringfork::handler(answer_plain)));
    ringfork::app app;
    BOOST_CHECK_THROW(app.get("/x", std::function<fn>()), std::invalid_argument);
    BOOST_CHECK_NO_THROW(app.get("/x", answer_plain));
}

BOOST_AUTO_TEST_CASE(an_answer_in_the_handler_is_written_at_once)
{
    const result r = run([](ringfork::request&, ringfork::responder res) {
        BOOST_TEST(!res.answered());
        res.send(ringfork::response::text(201, "made").set("X-A", "1"));
        BOOST_TEST(res.answered());
        res.send(202, "text/plain", "again"); // ignored, with a log line
    });
    BOOST_TEST(r.status() == 201u);
    BOOST_TEST(r.body() == "made");
    BOOST_TEST(r.wire.find("X-A: 1\r\n") != std::string::npos);
    BOOST_TEST(r.wire.find("again") == std::string::npos);
    BOOST_TEST(!r.later.source); // nothing allocated, nothing left to do
}

BOOST_AUTO_TEST_CASE(a_dropped_responder_and_an_exception_give_500)
{
    const result dropped = run([](ringfork::request&, ringfork::responder) {});
    BOOST_TEST(dropped.status() == 500u);
    const result threw = run([](ringfork::request&, ringfork::responder) { throw std::runtime_error("boom"); });
    BOOST_TEST(threw.status() == 500u);
    const result after = run([](ringfork::request&, ringfork::responder res) {
        res.send(200, "text/plain", "fine");
        throw std::runtime_error("late");
    });
    BOOST_TEST(after.status() == 200u); // answered first: the answer stands
    BOOST_TEST(after.body() == "fine");
    const result bad = run([](ringfork::request&, ringfork::responder res) { res.send(42, "text/plain", "x"); });
    BOOST_TEST(bad.status() == 500u);
}

BOOST_AUTO_TEST_CASE(a_stream_finished_in_the_handler_is_chunked_and_ended)
{
    const result r = run([](ringfork::request&, ringfork::responder res) {
        ringfork::body_writer w = res.stream(200, "text/plain");
        BOOST_TEST(w.is_open());
        BOOST_TEST(w.client().connected());
        BOOST_TEST(w.write("abc"));
        BOOST_TEST(w.write(""));
        w.finish({{"X-T", "1"}});
        BOOST_TEST(!w.write("late"));
    });
    BOOST_TEST(r.status() == 200u);
    BOOST_TEST(r.wire.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
    BOOST_TEST(r.body() == "3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n");
    BOOST_TEST(!r.later.source);
}

BOOST_AUTO_TEST_CASE(a_kept_responder_leaves_a_source_for_the_answer)
{
    ringfork::responder kept;
    ringfork::client_ref client;
    result r = run([&](ringfork::request&, ringfork::responder res) {
        client = res.client();
        kept = std::move(res);
    });
    BOOST_TEST(r.wire.empty());
    BOOST_TEST(r.later.source != nullptr);
    BOOST_TEST(client.connected());
    BOOST_TEST(!kept.answered());
    BOOST_TEST(kept.client_connected());
    // The connection went away before the answer: the late 500 is dropped, nothing breaks.
    r.later.source.reset();
    kept = ringfork::responder();
    BOOST_TEST(!kept.answered());
}

BOOST_AUTO_TEST_SUITE_END()
