// A library stream on a real connection: a connection table on its own ring, one end of a
// socket pair as the client. The writer's backpressure (pending bytes while the client does
// not read, on_drained once it has) and the client going away (on_close, writes refused,
// a kept responder's answer dropped) are checked turn by turn, every wait bounded.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "net/clock.hpp"
#include "net/fd.hpp"
#include "net/ring.hpp"
#include "tests/unit/worker/env_fixture.hpp"
#include "worker/app_route.hpp"
#include "worker/connections.hpp"

using namespace ringfork;
using namespace ringfork::worker;

namespace {

/// One worker's connection machinery without the rest of the loop: a route at /s whose
/// handler is the test's, and a turn() that does what the loop's turn does for connections.
struct bench {
    explicit bench(ringfork::handler h) : route(std::move(h))
    {
        std::string error;
        ring = net::ring::create(64, error);
        BOOST_REQUIRE_MESSAGE(ring, error);
        buffers = net::buffer_ring::create(ring, connection_table::buffer_group, 16, 4096, error);
        BOOST_REQUIRE_MESSAGE(error.empty(), error);
        BOOST_REQUIRE(routes.add("/s", http::get_head, &route).empty());
        int sv[2];
        BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
        client = net::unique_fd(sv[0]);
        parts.date.update(0);
        env.now_ms = net::monotonic_us() / 1000;
        table.emplace(ring, buffers, env);
        table->open(sv[1]);
    }

    /// One loop turn: sends, receive buffers, one bounded wait, every completion routed.
    void turn()
    {
        table->flush();
        buffers.publish();
        __kernel_timespec ts{0, 20'000'000};
        io_uring_cqe* cqe = nullptr;
        io_uring_submit_and_wait_timeout(ring.get(), &cqe, 1, &ts, nullptr);
        env.now_ms = net::monotonic_us() / 1000;
        unsigned head = 0, seen = 0;
        io_uring_for_each_cqe(ring.get(), head, cqe)
        {
            const user_data u = user_data::decode(cqe->user_data);
            if (u.kind == op::recv)
                table->on_recv(u, *cqe);
            else if (u.kind == op::send)
                table->on_send(u, *cqe);
            else if (u.kind == op::source)
                table->on_source(u, *cqe);
            ++seen;
        }
        io_uring_cq_advance(ring.get(), seen);
        table->fire_deadlines();
    }

    /// Turns until `done()` holds or five seconds have passed; whether it held.
    bool turn_until(const std::function<bool()>& done)
    {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!done() && std::chrono::steady_clock::now() < deadline)
            turn();
        return done();
    }

    /// Reads what the client has been sent so far, without waiting.
    std::size_t drain_client()
    {
        std::size_t n = 0;
        char buf[65536];
        for (;;) {
            const ssize_t r = ::recv(client.get(), buf, sizeof buf, MSG_DONTWAIT);
            if (r <= 0)
                return n;
            received.append(buf, static_cast<std::size_t>(r));
            n += static_cast<std::size_t>(r);
        }
    }

    void request(std::string_view head) { BOOST_REQUIRE(::send(client.get(), head.data(), head.size(), 0) == ssize_t(head.size())); }

    app_route route;
    test::worker_env_parts parts;
    router& routes = parts.routes;
    worker_env& env = parts.env;
    ipc::worker_stats& stats = parts.stats;
    net::ring ring;
    net::buffer_ring buffers;
    std::optional<connection_table> table;
    net::unique_fd client;
    std::string received;
};

constexpr std::string_view get_s = "GET /s HTTP/1.1\r\nHost: t\r\n\r\n";

} // namespace

BOOST_AUTO_TEST_SUITE(api_exchange_suite)

BOOST_AUTO_TEST_CASE(a_writer_is_told_when_a_slow_client_has_drained_it)
{
    ringfork::body_writer writer;
    bench b([&](ringfork::request&, ringfork::responder res) { writer = res.stream(200, "text/plain"); });
    b.request(get_s);
    BOOST_REQUIRE(b.turn_until([&] { return writer.is_open(); }));

    // Far more than the socket pair holds: while the client reads nothing, it stays pending.
    const std::string chunk(4 << 20, 'x');
    BOOST_TEST(writer.write(chunk));
    int drained = 0;
    writer.on_drained([&] { ++drained; });
    for (int i = 0; i < 5; ++i)
        b.turn();
    BOOST_TEST(writer.pending() > 0u);
    BOOST_TEST(drained == 0);

    // The client reads: the writer hears once, when everything has left.
    std::size_t got = 0;
    BOOST_TEST(b.turn_until([&] {
        got += b.drain_client();
        return drained > 0;
    }));
    BOOST_TEST(drained == 1);
    BOOST_TEST(writer.pending() == 0u);
    BOOST_TEST(got > chunk.size()); // the head, the chunk's framing and the chunk

    writer.finish();
    BOOST_TEST(b.turn_until([&] {
        b.drain_client();
        return b.received.ends_with("\r\n0\r\n\r\n");
    }));
    BOOST_TEST(!writer.is_open());
}

BOOST_AUTO_TEST_CASE(a_client_that_leaves_mid_stream_closes_the_writer)
{
    ringfork::body_writer writer;
    bench b([&](ringfork::request&, ringfork::responder res) { writer = res.stream(200, "text/plain"); });
    b.request(get_s);
    BOOST_REQUIRE(b.turn_until([&] { return writer.is_open(); }));
    int closed = 0;
    writer.on_close([&] { ++closed; });
    BOOST_TEST(writer.write("first"));
    BOOST_TEST(b.turn_until([&] {
        b.drain_client();
        return b.received.find("first") != std::string::npos;
    }));

    b.client.reset(); // the client goes away
    BOOST_TEST(b.turn_until([&] { return closed > 0; }));
    BOOST_TEST(closed == 1);
    BOOST_TEST(!writer.is_open());
    BOOST_TEST(!writer.client().connected());
    BOOST_TEST(!writer.write("late")); // refused, nothing breaks
    BOOST_TEST(writer.pending() == 0u);
    writer.finish();
    BOOST_TEST(b.table->open_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_kept_responder_of_a_client_that_left_answers_nowhere)
{
    ringfork::responder kept;
    bench b([&](ringfork::request&, ringfork::responder res) { kept = std::move(res); });
    b.request(get_s);
    BOOST_REQUIRE(b.turn_until([&] { return static_cast<bool>(b.stats.requests); }));
    BOOST_TEST(kept.client_connected());

    b.client.reset();
    BOOST_TEST(b.turn_until([&] { return !kept.client_connected(); }));
    kept.send(200, "text/plain", "too late"); // dropped without a word
    BOOST_TEST(!kept.client_connected());
    BOOST_TEST(b.table->open_count() == 0u);
}

BOOST_AUTO_TEST_CASE(a_client_that_closes_cleanly_has_left_too)
{
    // A FIN, not a reset, while the answer is still being worked out: the client has gone
    // (nothing is written that would show it otherwise).
    for (const bool streaming : {false, true}) {
        ringfork::responder kept;
        ringfork::body_writer writer;
        int closed = 0;
        bench b([&](ringfork::request&, ringfork::responder res) {
            if (streaming) {
                writer = res.stream(200, "text/plain");
                writer.on_close([&] { ++closed; });
            } else {
                kept = std::move(res);
            }
        });
        b.request(get_s);
        BOOST_REQUIRE(b.turn_until([&] { return static_cast<bool>(b.stats.requests); }));
        BOOST_REQUIRE(::shutdown(b.client.get(), SHUT_WR) == 0);
        BOOST_TEST(b.turn_until([&] { return b.table->open_count() == 0u; }), "streaming " << streaming);
        if (streaming) {
            BOOST_TEST(closed == 1);
            BOOST_TEST(!writer.write("late"));
        } else {
            BOOST_TEST(!kept.client_connected());
        }
    }
}

BOOST_AUTO_TEST_CASE(a_kept_responder_answers_from_a_later_turn)
{
    ringfork::responder kept;
    bench b([&](ringfork::request&, ringfork::responder res) { kept = std::move(res); });
    b.request(get_s);
    BOOST_REQUIRE(b.turn_until([&] { return static_cast<bool>(b.stats.requests); }));
    for (int i = 0; i < 3; ++i)
        b.turn();
    BOOST_TEST(b.drain_client() == 0u); // nothing yet

    kept.send(201, "text/plain", "later");
    BOOST_TEST(kept.answered());
    BOOST_TEST(b.turn_until([&] {
        b.drain_client();
        return b.received.ends_with("later");
    }));
    BOOST_TEST(b.received.starts_with("HTTP/1.1 201 Created\r\n"));
}

BOOST_AUTO_TEST_SUITE_END()
