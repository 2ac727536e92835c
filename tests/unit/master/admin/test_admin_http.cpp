// The admin listener's HTTP server, driven by hand the way the master's loop drives it.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>

#include "master/admin/admin_http.hpp"
#include "net/address.hpp"

using namespace ringfork;
using namespace ringfork::master;

namespace {

struct fixture {
    admin_server server;
    std::uint64_t now = 1000;

    fixture()
    {
        std::string error;
        BOOST_REQUIRE_MESSAGE(server.open(*net::parse_address("127.0.0.1:0"),
                                          [](std::string_view path) {
                                              if (path == "/stats")
                                                  return admin_response{200, "application/json", "{}"};
                                              return admin_response{404, "text/plain", "no"};
                                          },
                                          error),
                              error);
    }

    int connect()
    {
        const net::address& a = server.address();
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        BOOST_REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length) == 0);
        return fd;
    }

    /// Runs the loop for a few turns, advancing time by `step_ms` each.
    void turn(int turns = 5, std::uint64_t step_ms = 1)
    {
        for (int i = 0; i < turns; ++i) {
            std::vector<pollfd> fds;
            server.add_pollfds(fds);
            ::poll(fds.data(), fds.size(), 5);
            server.handle(fds, now += step_ms);
        }
    }

    /// What the client has received so far (non-blocking), after driving the loop.
    std::string read_all(int fd)
    {
        turn();
        std::string out;
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
            out.append(buf, std::size_t(n));
        return out;
    }
};

} // namespace

BOOST_FIXTURE_TEST_SUITE(admin_http, fixture)

BOOST_AUTO_TEST_CASE(get_keepalive_and_pipelining)
{
    int fd = connect();
    const std::string two = "GET /stats?x=1 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /nope HTTP/1.1\r\nHost: a\r\n\r\n";
    BOOST_REQUIRE(::send(fd, two.data(), two.size(), 0) == ssize_t(two.size()));
    const std::string got = read_all(fd);
    BOOST_TEST(got.starts_with("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n"));
    BOOST_TEST(got.find("Connection: keep-alive\r\n\r\n{}HTTP/1.1 404 Not Found\r\n") != std::string::npos);
    BOOST_TEST(got.ends_with("\r\n\r\n")); // HEAD: no body
    ::close(fd);
}

BOOST_AUTO_TEST_CASE(bad_requests_close)
{
    int a = connect();
    const std::string post = "POST /stats HTTP/1.1\r\nHost: a\r\n\r\n";
    ::send(a, post.data(), post.size(), 0);
    BOOST_TEST(read_all(a).starts_with("HTTP/1.1 405 "));
    int b = connect();
    const std::string big = "GET /stats HTTP/1.1\r\nX: " + std::string(admin_server::max_head, 'x') + "\r\n\r\n";
    ::send(b, big.data(), big.size(), MSG_NOSIGNAL);
    std::string got;
    for (int i = 0; i < 20 && got.empty(); ++i)
        got = read_all(b);
    BOOST_TEST(got.starts_with("HTTP/1.1 431 "));
    BOOST_TEST(got.find("Connection: close") != std::string::npos);
    int c = connect();
    ::send(c, "GET / HTTP/2.0\r\n\r\n", 18, 0);
    BOOST_TEST(read_all(c).starts_with("HTTP/1.1 505 "));
    ::close(a);
    ::close(b);
    ::close(c);
}

BOOST_AUTO_TEST_CASE(idle_connections_time_out_and_the_limit_holds)
{
    std::vector<int> fds;
    for (std::size_t i = 0; i < admin_server::max_connections + 4; ++i) {
        fds.push_back(connect());
        turn(1); // keeps the kernel's accept queue (backlog 64) from filling
    }
    turn(20);
    std::vector<pollfd> polled;
    server.add_pollfds(polled);
    BOOST_TEST(polled.size() == admin_server::max_connections + 1); // the listener, then each connection
    BOOST_TEST(polled[0].fd == -1);                                  // full: not accepting
    BOOST_TEST(server.next_deadline_ms() > now);
    now = server.next_deadline_ms() + 1000; // past every deadline: all were accepted within 1 s
    turn(1, 0); // every idle one is dropped at its deadline...
    turn(5);    // ...and the four the kernel queued are accepted
    polled.clear();
    server.add_pollfds(polled);
    BOOST_TEST(polled.size() == 5u);
    BOOST_TEST(polled[0].fd != -1);
    char c;
    BOOST_TEST(::recv(fds[0], &c, 1, MSG_DONTWAIT) == 0); // closed by the server
    for (int fd : fds)
        ::close(fd);
}

BOOST_AUTO_TEST_SUITE_END()
