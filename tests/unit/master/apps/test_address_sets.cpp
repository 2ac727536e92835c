// The workers' view of the apps' address sets, over real channels.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "master/apps/address_sets.hpp"
#include "net/fd.hpp"

using namespace ringfork;
using namespace ringfork::master;

namespace {

struct channel {
    net::unique_fd master, worker;
    channel()
    {
        int sv[2];
        BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0);
        master.reset(sv[0]);
        worker.reset(sv[1]);
    }
    /// The addresses of every upstream_set the worker has waiting, with their index.
    std::vector<std::pair<std::uint32_t, std::vector<std::string>>> received()
    {
        std::vector<std::pair<std::uint32_t, std::vector<std::string>>> out;
        ipc::message m;
        while (ipc::recv_message(worker.get(), m) == 1) {
            std::vector<ipc::upstream_address> a;
            std::string error;
            BOOST_REQUIRE(ipc::read_upstream_note(m.upstream, a, error));
            std::vector<std::string> texts;
            for (const auto& x : a)
                texts.push_back(x.text);
            out.emplace_back(m.upstream.upstream, texts);
        }
        return out;
    }
};

ipc::proxy_settings settings(std::vector<std::pair<std::string, std::vector<std::string>>> ups)
{
    ipc::proxy_settings p;
    for (auto& [name, addresses] : ups) {
        ipc::upstream_settings u;
        u.name = name;
        for (const auto& a : addresses)
            u.addresses.push_back(*ipc::parse_upstream_address(a));
        p.upstreams.push_back(std::move(u));
    }
    return p;
}

ipc::upstream_note drained(std::uint32_t index, const std::string& address)
{
    ipc::message m;
    std::string error;
    const std::vector<std::string> one{address};
    BOOST_REQUIRE(ipc::make_upstream_set(index, one, m, error));
    return m.upstream;
}

} // namespace

BOOST_AUTO_TEST_SUITE(address_sets_bookkeeping)

BOOST_AUTO_TEST_CASE(sets_go_to_workers_by_their_own_index_and_drains_are_owed)
{
    channel a, b;
    address_sets sets;
    // Worker a was forked with web at index 1 and one address; b with web at index 0, none.
    sets.worker_started(10, a.master.get(), settings({{"static", {"127.0.0.1:80"}}, {"web", {"127.0.0.1:4000"}}}));
    sets.worker_started(11, b.master.get(), settings({{"web", {}}}));
    BOOST_TEST((sets.users("web", "127.0.0.1:4000") == std::vector<pid_t>{10}));

    sets.publish("web", {"127.0.0.1:4001"});
    auto got_a = a.received();
    auto got_b = b.received();
    BOOST_REQUIRE(got_a.size() == 1u);
    BOOST_TEST(got_a[0].first == 1u);
    BOOST_TEST((got_a[0].second == std::vector<std::string>{"127.0.0.1:4001"}));
    BOOST_REQUIRE(got_b.size() == 1u);
    BOOST_TEST(got_b[0].first == 0u);
    // a still owes the address it was forked with; both may use the new one.
    BOOST_TEST((sets.users("web", "127.0.0.1:4000") == std::vector<pid_t>{10}));
    BOOST_TEST((sets.users("web", "127.0.0.1:4001") == std::vector<pid_t>{10, 11}));
    BOOST_TEST(sets.upstream_name(10, 1) == "web");
    BOOST_TEST(sets.upstream_name(10, 2).empty());

    sets.on_drained(10, drained(1, "127.0.0.1:4000"));
    BOOST_TEST(sets.users("web", "127.0.0.1:4000").empty());
    // A report naming another upstream's index drains nothing of web.
    sets.on_drained(11, drained(0, "127.0.0.1:9999"));
    BOOST_TEST(sets.users("web", "127.0.0.1:4001").size() == 2u);
    sets.worker_gone(11);
    BOOST_TEST((sets.users("web", "127.0.0.1:4001") == std::vector<pid_t>{10}));
}

BOOST_AUTO_TEST_CASE(a_full_channel_gets_the_latest_set_later)
{
    channel a;
    address_sets sets;
    sets.worker_started(20, a.master.get(), settings({{"web", {}}}));
    // Fill the worker's receive queue.
    ipc::message filler;
    while (ipc::send_message(a.master.get(), filler) == 0) {
    }
    sets.publish("web", {"127.0.0.1:5000"});
    BOOST_TEST(sets.retry_pending());
    BOOST_TEST(sets.users("web", "127.0.0.1:5000").empty()); // not told yet
    sets.publish("web", {"127.0.0.1:5001"});
    // Drain the queue, then the retry sends only the latest set.
    ipc::message m;
    while (ipc::recv_message(a.worker.get(), m) == 1) {
    }
    sets.retry();
    BOOST_TEST(!sets.retry_pending());
    const auto got = a.received();
    BOOST_REQUIRE(got.size() == 1u);
    BOOST_TEST((got[0].second == std::vector<std::string>{"127.0.0.1:5001"}));
    BOOST_TEST((sets.users("web", "127.0.0.1:5001") == std::vector<pid_t>{20}));
}

BOOST_AUTO_TEST_SUITE_END()
