// How RLIMIT_NOFILE is shared between connections and the open-file cache.
#include <boost/test/unit_test.hpp>

#include "worker/descriptor_budget.hpp"

using namespace ringfork::worker;

BOOST_AUTO_TEST_SUITE(descriptor_budget_suite)

BOOST_AUTO_TEST_CASE(a_high_limit_gives_the_cache_its_maximum)
{
    const auto b = descriptor_budget::plan(1 << 20, 10000);
    BOOST_TEST(b.fits);
    BOOST_TEST(b.cache == descriptor_budget::max_cache);
    BOOST_TEST(b.warning().find("RLIMIT_NOFILE=1048576") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_cache_gets_what_connections_leave)
{
    const auto b = descriptor_budget::plan(12000, 10000); // 12000 - 64 - 10000
    BOOST_TEST(b.fits);
    BOOST_TEST(b.cache == 1936u);
    const auto edge = descriptor_budget::plan(10000 + 64 + 64, 10000);
    BOOST_TEST(edge.fits);
    BOOST_TEST(edge.cache == 64u);
}

BOOST_AUTO_TEST_CASE(a_limit_below_the_connections_does_not_fit)
{
    const auto b = descriptor_budget::plan(256, 10000);
    BOOST_TEST(!b.fits);
    BOOST_TEST(b.cache == 48u); // a quarter of 256 - 64
    const std::string w = b.warning();
    BOOST_TEST(w.find("RLIMIT_NOFILE=256") != std::string::npos);
    BOOST_TEST(w.find("--max-connections 10000") != std::string::npos);
    BOOST_TEST(w.find("at least 10128") != std::string::npos);
    BOOST_TEST(!descriptor_budget::plan(10000 + 64 + 63, 10000).fits);
}

BOOST_AUTO_TEST_CASE(tiny_and_unlimited_limits)
{
    BOOST_TEST(descriptor_budget::plan(10, 1).cache == 0u);
    BOOST_TEST(!descriptor_budget::plan(10, 1).fits);
    const auto huge = descriptor_budget::plan(~0ull, 1000000);
    BOOST_TEST(huge.fits);
    BOOST_TEST(huge.cache == descriptor_budget::max_cache);
}

BOOST_AUTO_TEST_SUITE_END()
