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

BOOST_AUTO_TEST_CASE(abstract_name_and_length)
{
    const auto a = make_abstract_unix_address("rf-notify");
    BOOST_REQUIRE(a);
    BOOST_TEST(a->storage.sun_family == AF_UNIX);
    BOOST_TEST(a->storage.sun_path[0] == '\0');
    BOOST_TEST(std::string(a->storage.sun_path + 1, 9) == "rf-notify");
    BOOST_TEST(a->length == offsetof(sockaddr_un, sun_path) + 10); // no trailing NUL
    BOOST_TEST(!make_abstract_unix_address(""));
    BOOST_TEST(make_abstract_unix_address(std::string(unix_path_max, 'a')).has_value());
    BOOST_TEST(!make_abstract_unix_address(std::string(unix_path_max + 1, 'a')));
    const auto with_nul = make_abstract_unix_address(std::string_view("a\0b", 3));
    BOOST_REQUIRE(with_nul);
    BOOST_TEST(with_nul->length == offsetof(sockaddr_un, sun_path) + 4);
}

BOOST_AUTO_TEST_CASE(abstract_name_receives_a_datagram)
{
    const std::string name = fmt::format("rf-unix-address-{}", getpid());
    const auto a = make_abstract_unix_address(name);
    BOOST_REQUIRE(a);
    unique_fd sink(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    BOOST_REQUIRE(::bind(sink.get(), a->get(), a->length) == 0);
    sockaddr_un bound{};
    socklen_t len = sizeof bound;
    BOOST_REQUIRE(::getsockname(sink.get(), reinterpret_cast<sockaddr*>(&bound), &len) == 0);
    BOOST_TEST(len == a->length);
    BOOST_TEST(bound.sun_path[0] == '\0');
    BOOST_TEST(std::string(bound.sun_path + 1, name.size()) == name);
    unique_fd sender(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    BOOST_TEST(::sendto(sender.get(), "READY=1", 7, 0, a->get(), a->length) == 7);
    char got[16] = {};
    BOOST_TEST(::recv(sink.get(), got, sizeof got, MSG_DONTWAIT) == 7);
    BOOST_TEST(std::string(got) == "READY=1");
}

BOOST_AUTO_TEST_SUITE_END()
