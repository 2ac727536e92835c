// Loopback ports of app instances: free ports and who listens on one.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "master/apps/loopback_port.hpp"
#include "tests/unit/master/apps/loopback_listener.hpp"

using namespace ringfork::master;

namespace {
/// Two listeners on port 0x1F90 (8080): 127.0.0.1 by uid 1000, 0.0.0.0 by uid 0; one
/// connection from it (not a listener); a listener on another port; one on 10.0.0.5.
const char* tcp4 =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0\n"
    "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 112 1 0\n"
    "   2: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000    33        0 113 1 0\n"
    "   3: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000    44        0 114 1 0\n"
    "   4: 0500000A:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000    55        0 115 1 0\n";
/// ::, ::1 and ::ffff:127.0.0.1 listening on 8080.
const char* tcp6 =
    "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  2000        0 1 1 0\n"
    "   1: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  3000        0 2 1 0\n"
    "   2: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  4000        0 3 1 0\n";
} // namespace

BOOST_AUTO_TEST_SUITE(loopback_port)

BOOST_AUTO_TEST_CASE(listeners_that_take_loopback_connections, *boost::unit_test::enable_if<__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__>())
{
    std::vector<uid_t> uids;
    add_loopback_listeners(tcp4, false, 8080, uids);
    BOOST_TEST((uids == std::vector<uid_t>{1000, 0}));
    uids.clear();
    add_loopback_listeners(tcp6, true, 8080, uids);
    BOOST_TEST((uids == std::vector<uid_t>{2000, 4000})); // ::1 takes no 127.0.0.1 connection
    uids.clear();
    add_loopback_listeners(tcp4, false, 8081, uids);
    BOOST_TEST((uids == std::vector<uid_t>{44}));
    uids.clear();
    add_loopback_listeners("garbage\n 0: zz:1F90 x 0A a b c 7\n", false, 8080, uids);
    BOOST_TEST(uids.empty());
}

BOOST_AUTO_TEST_CASE(a_real_listener_is_found_with_its_owner)
{
    const ringfork::test::loopback_listener l;
    const port_listeners who = loopback_listeners(l.port);
    BOOST_TEST(who.readable);
    BOOST_TEST((who.uids == std::vector<uid_t>{::geteuid()}));
}

BOOST_AUTO_TEST_CASE(free_ports_avoid_the_ones_given)
{
    std::string error;
    const auto first = pick_free_port({}, error);
    BOOST_TEST_REQUIRE(first.has_value(), error);
    BOOST_TEST(*first > 0);
    // Whatever the kernel picks, a port listed is never handed out.
    std::vector<std::uint16_t> avoid{*first};
    for (int i = 0; i < 20; ++i) {
        const auto p = pick_free_port(avoid, error);
        BOOST_TEST_REQUIRE(p.has_value(), error);
        BOOST_TEST(std::count(avoid.begin(), avoid.end(), *p) == 0);
        avoid.push_back(*p);
    }
}

BOOST_AUTO_TEST_SUITE_END()
