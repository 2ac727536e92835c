// Respawn back-off.
#include <boost/test/unit_test.hpp>

#include "master/supervise/backoff.hpp"

using ringfork::master::backoff;

BOOST_AUTO_TEST_SUITE(respawn_backoff)

BOOST_AUTO_TEST_CASE(first_exit_refills_at_once_then_doubles_to_cap)
{
    backoff b;
    BOOST_TEST(b.next_delay(10) == 0u);
    BOOST_TEST(b.next_delay(10) == 100u);
    BOOST_TEST(b.next_delay(10) == 200u);
    BOOST_TEST(b.next_delay(10) == 400u);
    for (int i = 0; i < 10; ++i)
        (void)b.next_delay(10);
    BOOST_TEST(b.next_delay(10) == 10'000u);
    BOOST_TEST(b.next_delay(10) == 10'000u); // no overflow however long it goes on
}

BOOST_AUTO_TEST_CASE(stable_uptime_forgives)
{
    backoff b;
    (void)b.next_delay(10);
    (void)b.next_delay(10);
    BOOST_TEST(b.next_delay(10) == 200u);
    BOOST_TEST(b.next_delay(backoff::stable_ms) == 0u);
    BOOST_TEST(b.next_delay(10) == 100u);
}

BOOST_AUTO_TEST_SUITE_END()
