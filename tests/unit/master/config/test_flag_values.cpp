// Flag value parsing and the shared refusal wording.
#include <boost/test/unit_test.hpp>

#include "master/config/flag_values.hpp"

using namespace ringfork::master;

BOOST_AUTO_TEST_SUITE(flag_values)

BOOST_AUTO_TEST_CASE(numbers_seconds_intervals_sizes)
{
    BOOST_TEST(*parse_uint("42") == 42u);
    BOOST_TEST(!parse_uint(""));
    BOOST_TEST(!parse_uint("4x"));
    BOOST_TEST(!parse_uint("-1"));
    BOOST_TEST(*parse_seconds_ms("2.5") == 2500u);
    BOOST_TEST(!parse_seconds_ms("0"));
    BOOST_TEST(!parse_seconds_ms("86401"));
    BOOST_TEST(*parse_interval_ms("250ms") == 250u);
    BOOST_TEST(*parse_interval_ms("0.5") == 500u);
    BOOST_TEST(*parse_interval_ms("1s") == 1000u);
    BOOST_TEST(!parse_interval_ms("5ms"));
    BOOST_TEST(!parse_interval_ms("61s"));
    BOOST_TEST(*parse_size("2m") == 2u << 20);
    BOOST_TEST(*parse_size("8K") == 8192u);
    BOOST_TEST(!parse_size("12q"));
    BOOST_TEST(!parse_size("99999999999999999999g"));
}

BOOST_AUTO_TEST_CASE(setters_store_or_say_why)
{
    unsigned n = 7;
    BOOST_TEST(set_count("3", 1, 4, n).empty());
    BOOST_TEST(n == 3u);
    BOOST_TEST(set_count("5", 1, 4, n) == "'5' is not a number from 1 to 4");
    BOOST_TEST(n == 3u); // unchanged on refusal
    unsigned ms = 0;
    BOOST_TEST(set_seconds_ms("x", ms) == "'x' is not a positive number of seconds");
    double s = 0;
    BOOST_TEST(set_seconds("1.25", s).empty());
    BOOST_TEST(s == 1.25);
    unsigned long long bytes = 0;
    BOOST_TEST(set_size("63", 1 << 20, bytes) == "'63' is not a size in bytes (k/m/g suffixes allowed, at least 64)");
    BOOST_TEST(!set_size("2m", 1 << 20, bytes).empty());
    BOOST_TEST(set_size("1m", 1 << 20, bytes).empty());
    std::string text = "kept";
    BOOST_TEST(set_text("", "path", text) == "needs a path");
    BOOST_TEST(text == "kept");
    ringfork::net::address a;
    BOOST_TEST(parse_address_value("nowhere", a) == "'nowhere' is not ADDR:PORT (IPv4, [IPv6] or *:PORT)");
    BOOST_TEST(parse_address_value("127.0.0.1:80", a).empty());
    BOOST_TEST(a.to_string() == "127.0.0.1:80");
}

BOOST_AUTO_TEST_SUITE_END()
