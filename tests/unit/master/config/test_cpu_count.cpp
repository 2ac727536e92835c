// The --workers auto rule.
#include <boost/test/unit_test.hpp>

#include "master/config/cpu_count.hpp"

using namespace ringfork::master;

BOOST_AUTO_TEST_SUITE(worker_count_rule)

BOOST_AUTO_TEST_CASE(cpu_max_parsing)
{
    BOOST_TEST(!parse_cpu_max("max 100000\n"));
    BOOST_TEST(*parse_cpu_max("150000 100000\n") == 1.5);
    BOOST_TEST(*parse_cpu_max("50000 100000") == 0.5);
    BOOST_TEST(*parse_cpu_max("400000 100000") == 4.0);
    BOOST_TEST(!parse_cpu_max(""));
    BOOST_TEST(!parse_cpu_max("garbage"));
    BOOST_TEST(!parse_cpu_max("100 0"));
    BOOST_TEST(!parse_cpu_max("-5 100000"));
}

BOOST_AUTO_TEST_CASE(quota_caps_affinity)
{
    BOOST_TEST(workers_for(8, std::nullopt) == 8u);
    BOOST_TEST(workers_for(8, 1.5) == 2u);  // a partial CPU still gets a worker
    BOOST_TEST(workers_for(8, 0.5) == 1u);  // never below one
    BOOST_TEST(workers_for(2, 16.0) == 2u); // the quota never raises the count
    BOOST_TEST(workers_for(0, std::nullopt) == 1u);
}

BOOST_AUTO_TEST_CASE(this_machine_is_sane)
{
    const unsigned n = auto_workers();
    BOOST_TEST(n >= 1u);
    BOOST_TEST(n <= affinity_cpus());
}

BOOST_AUTO_TEST_SUITE_END()
