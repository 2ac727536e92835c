// The upstream messages: what the master sends a worker when an upstream's addresses
// change, and what a worker answers when a removed address has drained.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "ipc/messages.hpp"

using namespace ringfork::ipc;

BOOST_AUTO_TEST_SUITE(upstream_messages)

BOOST_AUTO_TEST_CASE(upstream_set_round_trip_over_the_channel)
{
    int sv[2];
    BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    message m;
    std::string error;
    const std::vector<std::string> set = {"127.0.0.1:3001", "[::1]:3002", "unix:/run/app-3.sock"};
    BOOST_REQUIRE(make_upstream_set(2, set, m, error));
    BOOST_TEST(send_message(sv[0], m) == 0);
    message r;
    BOOST_TEST(recv_message(sv[1], r) == 1);
    BOOST_TEST(int(r.type) == int(msg_type::upstream_set));
    BOOST_TEST(r.upstream.upstream == 2u);
    std::vector<upstream_address> got;
    BOOST_REQUIRE(read_upstream_note(r.upstream, got, error));
    BOOST_REQUIRE(got.size() == 3u);
    BOOST_TEST(got[0].text == "127.0.0.1:3001");
    BOOST_TEST(got[1].addr.ss_family == AF_INET6);
    BOOST_TEST(got[2].is_unix());
    // An empty set is a set too: no address takes new requests.
    BOOST_REQUIRE(make_upstream_set(0, {}, m, error));
    BOOST_REQUIRE(read_upstream_note(m.upstream, got, error));
    BOOST_TEST(got.empty());
    ::close(sv[0]);
    ::close(sv[1]);
}

BOOST_AUTO_TEST_CASE(bad_sets_are_refused_on_both_sides)
{
    message m;
    std::string error;
    BOOST_TEST(!make_upstream_set(0, std::vector<std::string>{"example.com:80"}, m, error));
    BOOST_TEST(error.find("example.com:80") != std::string::npos);
    std::vector<std::string> many(max_upstream_addresses + 1, "127.0.0.1:1");
    BOOST_TEST(!make_upstream_set(0, many, m, error));
    // A note a worker cannot read: too many addresses, no NUL, not an address.
    upstream_note n;
    std::vector<upstream_address> got;
    n.count = max_upstream_addresses + 1;
    BOOST_TEST(!read_upstream_note(n, got, error));
    n.count = 1;
    std::memset(n.addresses[0], 'a', sizeof n.addresses[0]);
    BOOST_TEST(!read_upstream_note(n, got, error));
    std::strcpy(n.addresses[0], "nowhere");
    BOOST_TEST(!read_upstream_note(n, got, error));
}

BOOST_AUTO_TEST_CASE(per_upstream_counters_merge)
{
    worker_stats a, b;
    a.upstreams[1].requests = 3;
    a.upstreams[1].failures[std::size_t(upstream_failure::connect)] = 1;
    b.upstreams[1].requests = 4;
    b.upstreams[1].responses_by_class[2] = 4;
    b.upstreams[1].retries = 2;
    b.upstreams[1].latency.record(100);
    b.upstreams[0].ejections = 1;
    a.merge(b);
    BOOST_TEST(a.upstreams[1].requests == 7u);
    BOOST_TEST(a.upstreams[1].responses_by_class[2] == 4u);
    BOOST_TEST(a.upstreams[1].failures[std::size_t(upstream_failure::connect)] == 1u);
    BOOST_TEST(a.upstreams[1].retries == 2u);
    BOOST_TEST(a.upstreams[1].latency.total() == 1u);
    BOOST_TEST(a.upstreams[0].ejections == 1u);
    // The whole snapshot still fits a channel datagram comfortably.
    BOOST_TEST(sizeof(message) < 16u * 1024);
}

BOOST_AUTO_TEST_SUITE_END()
