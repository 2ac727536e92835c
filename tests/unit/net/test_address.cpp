// Listen address parsing.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>

#include "net/address.hpp"

using ringfork::net::parse_address;

BOOST_AUTO_TEST_SUITE(address_parsing)

BOOST_AUTO_TEST_CASE(ipv4_and_ipv6)
{
    auto a = parse_address("127.0.0.1:8080");
    BOOST_REQUIRE(a);
    BOOST_TEST(a->family() == AF_INET);
    BOOST_TEST(a->port() == 8080u);
    BOOST_TEST(a->to_string() == "127.0.0.1:8080");
    BOOST_TEST(a->is_loopback());
    auto b = parse_address("[::1]:443");
    BOOST_REQUIRE(b);
    BOOST_TEST(b->family() == AF_INET6);
    BOOST_TEST(b->to_string() == "[::1]:443");
    BOOST_TEST(b->is_loopback());
    auto any = parse_address("*:80");
    BOOST_REQUIRE(any);
    BOOST_TEST(any->to_string() == "0.0.0.0:80");
    BOOST_TEST(!any->is_loopback());
    BOOST_TEST(parse_address("localhost:0")->to_string() == "127.0.0.1:0");
}

BOOST_AUTO_TEST_CASE(rejects_malformed)
{
    BOOST_TEST(!parse_address("127.0.0.1"));
    BOOST_TEST(!parse_address("127.0.0.1:65536"));
    BOOST_TEST(!parse_address("127.0.0.1:-1"));
    BOOST_TEST(!parse_address("example.com:80"));
    BOOST_TEST(!parse_address("[::1]"));
    BOOST_TEST(!parse_address("[::zz]:80"));
    BOOST_TEST(!parse_address("::1:80"));
    BOOST_TEST(!parse_address("1.2.3.4:8o"));
}

BOOST_AUTO_TEST_SUITE_END()
