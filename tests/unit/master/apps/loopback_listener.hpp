// A TCP listener on 127.0.0.1 at a port the kernel picks, for tests that need a real one.
// Owns the socket; leaves accepting to the test.
#pragma once

#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

#include "net/fd.hpp"

namespace ringfork::test {

struct loopback_listener {
    net::unique_fd fd;
    std::uint16_t port = 0;
    loopback_listener()
    {
        fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sa;
        BOOST_REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
        BOOST_REQUIRE(::listen(fd.get(), 4) == 0);
        BOOST_REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) == 0);
        port = ntohs(sa.sin_port);
    }
};

} // namespace ringfork::test
