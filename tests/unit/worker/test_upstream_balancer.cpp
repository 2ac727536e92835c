// Choosing an upstream address: fewest in flight, passive health, set changes.
#include <boost/test/unit_test.hpp>

#include <set>
#include <string>
#include <vector>

#include "worker/upstream_balancer.hpp"

using namespace ringfork;
using namespace ringfork::worker;
using health = upstream_balancer::health;

namespace {

std::vector<ipc::upstream_address> addresses(std::vector<std::string> texts)
{
    std::vector<ipc::upstream_address> out;
    for (const auto& t : texts)
        out.push_back(*ipc::parse_upstream_address(t));
    return out;
}

std::string text(const upstream_balancer& b, int slot) { return b.at(slot).address.text; }

} // namespace

BOOST_AUTO_TEST_SUITE(upstream_balancer_suite)

BOOST_AUTO_TEST_CASE(fewest_in_flight_with_ties_going_round)
{
    upstream_balancer b(addresses({"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}));
    std::set<int> first_round;
    for (int i = 0; i < 3; ++i)
        first_round.insert(b.choose(0, 0));
    BOOST_TEST(first_round.size() == 3u); // one each before any gets a second
    // Two finish on slot 1: it now has the fewest in flight.
    BOOST_TEST(b.at(1).in_flight == 1u);
    b.finish(1, health::ok, 0);
    BOOST_TEST(b.choose(0, 0) == 1);
    BOOST_TEST(b.at(0).in_flight == 1u);
    BOOST_TEST(b.at(1).in_flight == 1u);
    // Equal loads are spread, not piled on the first.
    for (int s : {0, 1, 2})
        b.finish(s, health::ok, 0);
    std::vector<int> order;
    for (int i = 0; i < 6; ++i) {
        const int s = b.choose(0, 0);
        order.push_back(s);
        b.finish(s, health::ok, 0);
    }
    BOOST_TEST(std::set<int>(order.begin(), order.end()).size() == 3u);
}

BOOST_AUTO_TEST_CASE(tried_addresses_are_skipped)
{
    upstream_balancer b(addresses({"127.0.0.1:1", "127.0.0.1:2"}));
    const int first = b.choose(0, 0);
    const int second = b.choose(0, 1u << first);
    BOOST_TEST(second != first);
    BOOST_TEST(b.choose(0, (1u << first) | (1u << second)) == upstream_balancer::none);
}

BOOST_AUTO_TEST_CASE(ejected_after_consecutive_failures_then_probed)
{
    upstream_balancer b(addresses({"127.0.0.1:1", "127.0.0.1:2"}));
    // Address 0 fails eject_after times in a row (a success in between resets the count).
    BOOST_TEST(!b.finish(b.choose(0, 2), health::failed, 0));
    BOOST_TEST(!b.finish(b.choose(0, 2), health::ok, 0));
    for (unsigned i = 1; i < upstream_balancer::eject_after; ++i)
        BOOST_TEST(!b.finish(b.choose(0, 2), health::failed, 0));
    BOOST_TEST(b.finish(b.choose(0, 2), health::failed, 1000)); // ejected now
    BOOST_TEST(b.at(0).ejected_until_ms == 1000 + upstream_balancer::eject_ms);
    // While ejected, every request goes to the other address.
    for (int i = 0; i < 5; ++i) {
        const int s = b.choose(2000, 0);
        BOOST_TEST(s == 1);
        b.finish(s, health::ok, 2000);
    }
    // Time up: one probe goes to it, and only one while it is out.
    const std::uint64_t later = 1000 + upstream_balancer::eject_ms;
    BOOST_TEST(b.choose(later, 2) == 0);
    BOOST_TEST(b.at(0).probing);
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(b.choose(later, 0) == 1); // not a second one while the probe is out
    // The probe fails: ejected again for the whole period.
    BOOST_TEST(!b.finish(0, health::failed, later));
    BOOST_TEST(b.at(0).ejected_until_ms == later + upstream_balancer::eject_ms);
    BOOST_TEST(!b.at(0).probing);
    // The next probe succeeds: healthy again.
    const std::uint64_t again = later + upstream_balancer::eject_ms;
    BOOST_TEST(b.choose(again, 2) == 0);
    b.finish(0, health::ok, again);
    BOOST_TEST(b.at(0).ejected_until_ms == 0u);
    BOOST_TEST(b.at(0).failures == 0u);
}

BOOST_AUTO_TEST_CASE(a_lone_ejected_address_is_still_tried)
{
    upstream_balancer b(addresses({"127.0.0.1:1"}));
    for (unsigned i = 0; i < upstream_balancer::eject_after; ++i)
        b.finish(b.choose(0, 0), health::failed, 0);
    BOOST_TEST(b.at(0).ejected_until_ms != 0u);
    BOOST_TEST(b.choose(1, 0) == 0); // refusing every request would be worse
    b.finish(0, health::ok, 1);
    BOOST_TEST(b.at(0).ejected_until_ms == 0u);
    // Neutral outcomes (the client left) change nothing but the count in flight.
    BOOST_TEST(b.choose(2, 0) == 0);
    b.finish(0, health::neutral, 2);
    BOOST_TEST(b.at(0).in_flight == 0u);
    BOOST_TEST(b.at(0).failures == 0u);
}

BOOST_AUTO_TEST_CASE(set_changes_keep_state_and_drain_removed_addresses)
{
    upstream_balancer b(addresses({"127.0.0.1:1", "127.0.0.1:2"}));
    const int busy = b.choose(0, 2); // slot 0 has a request in flight
    BOOST_TEST(busy == 0);
    b.at(0).failures = 2;
    BOOST_TEST(b.replace(addresses({"127.0.0.1:2", "127.0.0.1:3"})));
    BOOST_TEST(b.current() == 2u);
    BOOST_TEST(b.at(0).removed);
    BOOST_TEST(b.at(0).failures == 2u); // still the same record until drained
    // No new request goes to the removed address.
    std::set<std::string> chosen;
    for (int i = 0; i < 4; ++i) {
        const int s = b.choose(0, 0);
        chosen.insert(text(b, s));
        b.finish(s, health::ok, 0);
    }
    BOOST_TEST((chosen == std::set<std::string>{"127.0.0.1:2", "127.0.0.1:3"}));
    std::vector<std::string> drained;
    const auto collect = [&] { b.collect_drained([&](int, const auto& e) { drained.push_back(e.address.text); }); };
    collect();
    BOOST_TEST(drained.empty()); // its request is still in flight
    b.at(0).idle = 1;
    b.finish(busy, health::ok, 0);
    collect();
    BOOST_TEST(drained.empty()); // an idle connection to it is still open
    b.at(0).idle = 0;
    collect();
    BOOST_TEST(drained == std::vector<std::string>{"127.0.0.1:1"});
    collect();
    BOOST_TEST(drained.size() == 1u); // reported once
    // The freed slot is reused by a new address, which starts healthy.
    BOOST_TEST(b.replace(addresses({"127.0.0.1:2", "127.0.0.1:3", "127.0.0.1:4"})));
    BOOST_TEST(text(b, 0) == "127.0.0.1:4");
    BOOST_TEST(b.at(0).failures == 0u);
    BOOST_TEST(!b.at(0).removed);
}

BOOST_AUTO_TEST_CASE(an_address_back_before_draining_is_current_again)
{
    upstream_balancer b(addresses({"127.0.0.1:1"}));
    const int s = b.choose(0, 0);
    BOOST_TEST(b.replace(addresses({"127.0.0.1:2"})));
    BOOST_TEST(b.choose(0, 0) == 1);
    BOOST_TEST(b.replace(addresses({"127.0.0.1:1", "127.0.0.1:2"})));
    BOOST_TEST(!b.at(s).removed);
    b.finish(s, health::ok, 0);
    int reports = 0;
    b.collect_drained([&](int, const auto&) { ++reports; });
    BOOST_TEST(reports == 0);
}

BOOST_AUTO_TEST_CASE(empty_set_and_slot_bound)
{
    upstream_balancer b(addresses({}));
    BOOST_TEST(b.choose(0, 0) == upstream_balancer::none);
    std::vector<std::string> many;
    for (std::size_t i = 1; i <= upstream_balancer::max_slots; ++i)
        many.push_back("127.0.0.1:" + std::to_string(i));
    BOOST_TEST(b.replace(addresses(many)));
    BOOST_TEST(b.current() == upstream_balancer::max_slots);
    for (std::size_t i = 0; i < upstream_balancer::max_slots; ++i)
        (void)b.choose(0, 0); // all busy, so none drains when removed
    // A whole new set while the old one is in flight does not fit: refused, nothing changed.
    std::vector<std::string> other;
    for (std::size_t i = 100; i < 100 + upstream_balancer::max_slots; ++i)
        other.push_back("127.0.0.1:" + std::to_string(i));
    BOOST_TEST(!b.replace(addresses(other)));
    BOOST_TEST(b.current() == upstream_balancer::max_slots);
}

BOOST_AUTO_TEST_SUITE_END()
