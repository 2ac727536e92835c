#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "worker/pipe_pool.hpp"

using ringfork::worker::pipe_pair;
using ringfork::worker::pipe_pool;

BOOST_AUTO_TEST_SUITE(pipe_pool_suite)

BOOST_AUTO_TEST_CASE(acquired_pipe_is_nonblocking_and_carries_bytes)
{
    pipe_pool pool(256 * 1024, 4);
    pipe_pair p = pool.acquire();
    BOOST_REQUIRE(p.valid());
    BOOST_TEST(p.capacity >= std::size_t(4096));
    BOOST_TEST((::fcntl(p.read_end.get(), F_GETFL) & O_NONBLOCK) != 0);
    BOOST_TEST((::fcntl(p.write_end.get(), F_GETFL) & O_NONBLOCK) != 0);
    BOOST_TEST((::fcntl(p.read_end.get(), F_GETFD) & FD_CLOEXEC) != 0);
    BOOST_REQUIRE_EQUAL(::write(p.write_end.get(), "abc", 3), 3);
    char got[4] = {};
    BOOST_REQUIRE_EQUAL(::read(p.read_end.get(), got, sizeof got), 3);
    BOOST_TEST(std::strcmp(got, "abc") == 0);
    // Empty again: a read must not block.
    BOOST_TEST(::read(p.read_end.get(), got, sizeof got) == -1);
}

BOOST_AUTO_TEST_CASE(pipe_smaller_than_the_least_is_refused)
{
    // Asking for 4 KiB gets 4 KiB (the kernel shrinks on request): too small to be worth it.
    pipe_pool small(4096, 4, 64 * 1024);
    BOOST_TEST(!small.acquire().valid());
    pipe_pool fine(4096, 4, 4096);
    pipe_pair p = fine.acquire();
    BOOST_REQUIRE(p.valid());
    BOOST_TEST(p.capacity == 4096u);
}

BOOST_AUTO_TEST_CASE(empty_pipe_is_reused)
{
    pipe_pool pool(64 * 1024, 4);
    pipe_pair p = pool.acquire();
    BOOST_REQUIRE(p.valid());
    const int fd = p.read_end.get();
    pool.release(std::move(p));
    BOOST_TEST(pool.idle() == 1u);
    pipe_pair again = pool.acquire();
    BOOST_TEST(again.read_end.get() == fd);
    BOOST_TEST(pool.idle() == 0u);
}

BOOST_AUTO_TEST_CASE(pipe_with_data_is_closed_not_pooled)
{
    pipe_pool pool(64 * 1024, 4);
    pipe_pair p = pool.acquire();
    BOOST_REQUIRE(p.valid());
    const int fd = p.read_end.get();
    BOOST_REQUIRE_EQUAL(::write(p.write_end.get(), "x", 1), 1);
    pool.release(std::move(p));
    BOOST_TEST(pool.idle() == 0u);
    BOOST_TEST(::fcntl(fd, F_GETFD) == -1); // closed
}

BOOST_AUTO_TEST_CASE(pool_keeps_at_most_its_bound)
{
    pipe_pool pool(64 * 1024, 2);
    pipe_pair a = pool.acquire(), b = pool.acquire(), c = pool.acquire();
    BOOST_REQUIRE(a.valid() && b.valid() && c.valid());
    const int c_fd = c.write_end.get();
    pool.release(std::move(a));
    pool.release(std::move(b));
    pool.release(std::move(c));
    BOOST_TEST(pool.idle() == 2u);
    BOOST_TEST(::fcntl(c_fd, F_GETFD) == -1);
}

BOOST_AUTO_TEST_SUITE_END()
