// Timer wheel: deadlines fire once, at or after their time, never early.
#include <boost/test/unit_test.hpp>

#include <vector>

#include "worker/timer_wheel.hpp"

using ringfork::worker::timer_wheel;

BOOST_AUTO_TEST_SUITE(timer_wheel_suite)

BOOST_AUTO_TEST_CASE(fires_after_deadline_only)
{
    timer_wheel w(1000, 100, 16);
    w.set(1, 1250);
    w.set(2, 1500);
    std::vector<std::uint32_t> fired;
    auto collect = [&](std::uint32_t id) { fired.push_back(id); };
    w.advance(1200, collect);
    BOOST_TEST(fired.empty());
    w.advance(1300, collect);
    BOOST_TEST(fired == std::vector<std::uint32_t>{1});
    w.advance(1499, collect);
    BOOST_TEST(fired.size() == 1u);
    w.advance(1600, collect);
    BOOST_TEST(fired == (std::vector<std::uint32_t>{1, 2}));
    BOOST_TEST(w.size() == 0u);
}

BOOST_AUTO_TEST_CASE(moving_later_and_earlier)
{
    timer_wheel w(0, 100, 16);
    std::vector<std::uint32_t> fired;
    auto collect = [&](std::uint32_t id) { fired.push_back(id); };
    w.set(7, 300);
    w.set(7, 900); // later: lazily re-filed
    w.advance(500, collect);
    BOOST_TEST(fired.empty());
    BOOST_TEST(w.scheduled(7));
    w.set(7, 600); // earlier: moved
    w.advance(700, collect);
    BOOST_TEST(fired == std::vector<std::uint32_t>{7});
}

BOOST_AUTO_TEST_CASE(beyond_one_revolution)
{
    timer_wheel w(0, 10, 8); // 80 ms per revolution
    std::vector<std::uint32_t> fired;
    auto collect = [&](std::uint32_t id) { fired.push_back(id); };
    w.set(3, 1000);
    for (std::uint64_t t = 0; t < 990; t += 7)
        w.advance(t, collect);
    BOOST_TEST(fired.empty());
    w.advance(1005, collect);
    BOOST_TEST(fired == std::vector<std::uint32_t>{3});
}

BOOST_AUTO_TEST_CASE(cancel_and_many)
{
    timer_wheel w(0, 100, 64);
    for (std::uint32_t i = 0; i < 1000; ++i)
        w.set(i, 100 + i * 10);
    for (std::uint32_t i = 0; i < 1000; i += 2)
        w.cancel(i);
    BOOST_TEST(w.size() == 500u);
    std::vector<std::uint32_t> fired;
    w.advance(100000, [&](std::uint32_t id) { fired.push_back(id); });
    BOOST_TEST(fired.size() == 500u);
    for (auto id : fired)
        BOOST_TEST(id % 2 == 1u);
    BOOST_TEST(w.next_wait_ms(100000) == -1);
}

BOOST_AUTO_TEST_SUITE_END()
