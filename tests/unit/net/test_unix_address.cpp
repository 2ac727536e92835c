// Unix-domain socket addresses.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include <fmt/format.h>

#include "net/fd.hpp"
#include "net/unix_address.hpp"

using namespace ringfork::net;

BOOST_AUTO_TEST_SUITE(unix_addresses)

BOOST_AUTO_TEST_CASE(path_and_length)
{
    const auto a = make_unix_address("/run/x.sock");
    BOOST_REQUIRE(a);
    BOOST_TEST(a->storage.sun_family == AF_UNIX);
    BOOST_TEST(std::string(a->storage.sun_path) == "/run/x.sock");
    BOOST_TEST(a->length == offsetof(sockaddr_un, sun_path) + 12);
}

BOOST_AUTO_TEST_CASE(refuses_what_does_not_fit)
{
    BOOST_TEST(!make_unix_address(""));
    BOOST_TEST(!make_unix_address(std::string_view("/a\0b", 4)));
    BOOST_TEST(make_unix_address(std::string(unix_path_max, 'a')).has_value());
    BOOST_TEST(!make_unix_address(std::string(unix_path_max + 1, 'a')));
}

BOOST_AUTO_TEST_CASE(binds_and_connects)
{
    const std::string path = fmt::format("/tmp/rf-unix-address-{}.sock", getpid());
    ::unlink(path.c_str());
    const auto a = make_unix_address(path);
    BOOST_REQUIRE(a);
    unique_fd server(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    BOOST_REQUIRE(::bind(server.get(), a->get(), a->length) == 0);
    BOOST_REQUIRE(::listen(server.get(), 1) == 0);
    unique_fd client(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    BOOST_TEST(::connect(client.get(), a->get(), a->length) == 0);
    sockaddr_un bound{};
    socklen_t len = sizeof bound;
    BOOST_REQUIRE(::getsockname(server.get(), reinterpret_cast<sockaddr*>(&bound), &len) == 0);
    BOOST_TEST(std::string(bound.sun_path) == path);
    ::unlink(path.c_str());
}

BOOST_AUTO_TEST_SUITE_END()
