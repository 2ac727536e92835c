// user_data encoding round-trips and keeps fields apart.
#include <boost/test/unit_test.hpp>

#include "worker/ops.hpp"

using ringfork::worker::op;
using ringfork::worker::user_data;

BOOST_AUTO_TEST_SUITE(user_data_encoding)

BOOST_AUTO_TEST_CASE(round_trip)
{
    const user_data u{op::send, 7, 123456, 789};
    const user_data d = user_data::decode(u.encode());
    BOOST_TEST(int(d.kind) == int(op::send));
    BOOST_TEST(d.tag == 7u);
    BOOST_TEST(d.index == 123456u);
    BOOST_TEST(d.generation == 789u);
}

BOOST_AUTO_TEST_CASE(extremes_do_not_bleed)
{
    const user_data u{op::source, 0xFF, 0xFF'FFFF, 0xFF'FFFF};
    const user_data d = user_data::decode(u.encode());
    BOOST_TEST(int(d.kind) == int(op::source));
    BOOST_TEST(d.tag == 0xFFu);
    BOOST_TEST(d.index == 0xFF'FFFFu);
    BOOST_TEST(d.generation == 0xFF'FFFFu);
    const user_data z = user_data::decode(user_data{op::accept, 0, 0, 0}.encode());
    BOOST_TEST(z.index == 0u);
    BOOST_TEST(z.generation == 0u);
    BOOST_TEST(z.tag == 0u);
}

BOOST_AUTO_TEST_CASE(generation_and_index_wrap_to_24_bits)
{
    const user_data d = user_data::decode(user_data{op::recv, 3, 0x1'000'005, 0x1'000'002}.encode());
    BOOST_TEST(d.generation == 2u);
    BOOST_TEST(d.index == 5u);
    BOOST_TEST(d.tag == 3u);
    BOOST_TEST(int(d.kind) == int(op::recv));
}

BOOST_AUTO_TEST_SUITE_END()
