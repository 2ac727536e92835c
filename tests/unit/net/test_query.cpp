// Query strings: splitting, decoding and looking parameters up.
#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

#include "net/query.hpp"

using namespace ringfork::net;

BOOST_AUTO_TEST_SUITE(query_strings)

BOOST_AUTO_TEST_CASE(splits_into_raw_parameters)
{
    std::vector<std::pair<std::string, std::string>> got;
    for_each_query_param("a=1&&b&c=x=y&=z&", [&](std::string_view k, std::string_view v) {
        got.emplace_back(k, v);
    });
    const std::vector<std::pair<std::string, std::string>> want{{"a", "1"}, {"b", ""}, {"c", "x=y"}, {"", "z"}};
    BOOST_TEST((got == want));
}

BOOST_AUTO_TEST_CASE(decodes_plus_and_percent)
{
    BOOST_TEST(decode_query_component("a+b%20c%2fd") == "a b c/d");
    BOOST_TEST(decode_query_component("100%") == "100%");
    BOOST_TEST(decode_query_component("%4") == "%4");
    BOOST_TEST(decode_query_component("%zz%41") == "%zzA");
}

BOOST_AUTO_TEST_CASE(value_is_the_first_one_and_raw)
{
    BOOST_TEST(query_value("a=1&n=5&n=6", "n").value_or("none") == "5");
    BOOST_TEST(query_value("n&n=6", "n").value_or("none") == "");
    BOOST_TEST(query_value("x=%41", "x").value_or("none") == "%41");
    BOOST_TEST(!query_value("an=5", "n").has_value());
    BOOST_TEST(!query_value("", "n").has_value());
}

BOOST_AUTO_TEST_CASE(has_compares_key_and_value_exactly)
{
    BOOST_TEST(query_has("x=2&async=1", "async", "1"));
    BOOST_TEST(!query_has("async=10", "async", "1"));
    BOOST_TEST(!query_has("async", "async", "1"));
    BOOST_TEST(!query_has("async=1=x", "async", "1"));
    BOOST_TEST(!query_has("xasync=1", "async", "1"));
}

BOOST_AUTO_TEST_SUITE_END()
