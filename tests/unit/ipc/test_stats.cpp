// Stats snapshots: histogram quantiles, merge, messages and the fair-share rule.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include "ipc/accept_share.hpp"
#include "ipc/messages.hpp"

using namespace ringfork::ipc;

BOOST_AUTO_TEST_SUITE(stats_suite)

BOOST_AUTO_TEST_CASE(histogram_quantiles)
{
    latency_histogram h;
    BOOST_TEST(h.quantile(0.5) == 0u);
    for (int i = 0; i < 90; ++i)
        h.record(100); // bucket [64,128)
    for (int i = 0; i < 10; ++i)
        h.record(5000);
    BOOST_TEST(h.total() == 100u);
    BOOST_TEST(h.quantile(0.5) == 128u);
    BOOST_TEST(h.quantile(0.99) == 5000u); // capped by the max seen
    BOOST_TEST(h.max_us == 5000u);
}

BOOST_AUTO_TEST_CASE(merge_adds_counters)
{
    worker_stats a, b;
    a.requests = 5;
    a.count_response(200);
    a.count_response(404);
    b.requests = 7;
    b.count_response(503);
    b.connections_open = 3;
    b.latency.record(10);
    a.merge(b);
    BOOST_TEST(a.requests == 12u);
    BOOST_TEST(a.responses_by_class[2] == 1u);
    BOOST_TEST(a.responses_by_class[4] == 1u);
    BOOST_TEST(a.responses_by_class[5] == 1u);
    BOOST_TEST(a.connections_open == 3u);
    BOOST_TEST(a.latency.total() == 1u);
}

BOOST_AUTO_TEST_CASE(messages_round_trip_over_seqpacket)
{
    int sv[2];
    BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    message m;
    m.type = msg_type::ready;
    m.slot = 3;
    m.pid = 42;
    m.stats.requests = 99;
    BOOST_TEST(send_message(sv[0], m) == 0);
    message r;
    BOOST_TEST(recv_message(sv[1], r) == 1);
    BOOST_TEST(int(r.type) == int(msg_type::ready));
    BOOST_TEST(r.slot == 3u);
    BOOST_TEST(r.stats.requests == 99u);
    const char junk[5] = {};
    BOOST_TEST(::send(sv[0], junk, sizeof junk, 0) == 5);
    BOOST_TEST(recv_message(sv[1], r) == -EPROTO);
    // A whole message from an older or a newer build: refused too.
    for (const int delta : {-1, 1}) {
        m.version = static_cast<std::uint16_t>(protocol_version + delta);
        BOOST_TEST(!valid_message(&m, static_cast<long>(sizeof m)));
        BOOST_TEST(send_message(sv[0], m) == 0);
        BOOST_TEST(recv_message(sv[1], r) == -EPROTO);
    }
    m.version = protocol_version;
    BOOST_TEST(valid_message(&m, static_cast<long>(sizeof m)));
    BOOST_TEST(!valid_message(&m, static_cast<long>(sizeof m) - 1));
    ::close(sv[0]);
    BOOST_TEST(recv_message(sv[1], r) == 0);
    ::close(sv[1]);
}

BOOST_AUTO_TEST_CASE(fair_share_rule)
{
    accept_share* s = accept_share::create();
    BOOST_REQUIRE(s);
    fair_share_window w;
    s->slots[0].live = 1;
    BOOST_TEST(!over_fair_share(*s, 2, 0, w)); // alone: never over
    s->slots[1].live = 1;
    s->slots[0].accepted = 100;
    s->slots[1].accepted = 0;
    BOOST_TEST(over_fair_share(*s, 2, 0, w));  // took everything since the window began
    BOOST_TEST(!over_fair_share(*s, 2, 1, w));
    w.reset(*s, 2);
    BOOST_TEST(!over_fair_share(*s, 2, 0, w)); // new window, nothing taken yet
    s->slots[0].open = 100;
    s->slots[1].open = 10;
    BOOST_TEST(over_fair_share(*s, 2, 0, w));  // holds far more open connections
    s->slots[1].open = 90;
    BOOST_TEST(!over_fair_share(*s, 2, 0, w));
}

BOOST_AUTO_TEST_SUITE_END()
