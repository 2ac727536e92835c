// The admin listener's HTTP server, driven by hand the way the master's loop drives it.
#include <boost/test/unit_test.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "master/admin/admin_http.hpp"
#include "net/address.hpp"

using namespace ringfork;
using namespace ringfork::master;

namespace {

constexpr std::string_view request_line = "GET /stats HTTP/1.1\r\n";
constexpr std::string_view whole_request = "GET /stats HTTP/1.1\r\nHost: a\r\n\r\n";

void send_text(int fd, std::string_view text)
{
    BOOST_REQUIRE(::send(fd, text.data(), text.size(), MSG_NOSIGNAL) == ssize_t(text.size()));
}

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
        // The kernel's deferral (TCP_DEFER_ACCEPT) would keep silent test clients from ever
        // reaching the table; the process tests cover it.
        const int off = 0;
        ::setsockopt(server.listener_fd(), IPPROTO_TCP, TCP_DEFER_ACCEPT, &off, sizeof off);
    }

    int connect()
    {
        const net::address& a = server.address();
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        BOOST_REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length) == 0);
        return fd;
    }

    /// A connection whose local address is `ip` (any of 127.0.0.0/8 is loopback).
    int connect_from(const std::string& ip)
    {
        const net::address& a = server.address();
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        const net::address local = *net::parse_address(ip + ":0");
        BOOST_REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&local.storage), local.length) == 0);
        BOOST_REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length) == 0);
        return fd;
    }

    /// True when the server has closed `fd` (EOF or reset), without waiting.
    static bool closed_by_server(int fd)
    {
        char c;
        const ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK);
        return n == 0 || (n < 0 && errno != EAGAIN);
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

BOOST_AUTO_TEST_CASE(silent_connections_get_one_second_partial_heads_five)
{
    const int silent = connect();
    const int partial = connect();
    turn(2);
    send_text(partial, request_line);
    turn(2);
    now += admin_server::limits.first_byte_ms;
    turn(1, 0);
    BOOST_TEST(closed_by_server(silent));
    BOOST_TEST(!closed_by_server(partial));
    now += admin_server::limits.request_ms;
    turn(1, 0);
    BOOST_TEST(closed_by_server(partial));
    ::close(silent);
    ::close(partial);
}

BOOST_AUTO_TEST_CASE(a_new_connection_takes_the_oldest_idle_slot_of_its_peer)
{
    // Every connection from 127.0.0.1: the per-peer cap is the one that binds.
    const auto& limits = admin_server::limits;
    std::vector<int> fds;
    for (std::size_t i = 0; i < limits.max_per_peer + 4; ++i) {
        if (i == limits.max_per_peer)
            now += limits.min_age_ms; // the first ones are old enough to give way now
        fds.push_back(connect());
        turn(1, 1);
    }
    std::vector<pollfd> polled;
    server.add_pollfds(polled);
    BOOST_TEST(polled.size() == limits.max_per_peer + 1); // the listener, then each connection
    BOOST_TEST(polled[0].fd != -1);                       // still accepting
    for (std::size_t i = 0; i < fds.size(); ++i)
        BOOST_TEST(closed_by_server(fds[i]) == (i < 4), i); // the four oldest gave way
    // The newest still gets answers.
    send_text(fds.back(), whole_request);
    BOOST_TEST(read_all(fds.back()).starts_with("HTTP/1.1 200 OK"));
    for (int fd : fds)
        ::close(fd);
}

BOOST_AUTO_TEST_CASE(silent_connections_give_way_before_requests_under_way)
{
    const auto& limits = admin_server::limits;
    const int busy = connect();
    turn(1, 1);
    send_text(busy, request_line); // a head under way
    turn(1, 1);
    std::vector<int> silent;
    for (std::size_t i = 1; i < limits.max_per_peer + 2; ++i) {
        if (i == limits.max_per_peer)
            now += limits.min_age_ms;
        silent.push_back(connect());
        turn(1, 1);
    }
    BOOST_TEST(!closed_by_server(busy)); // the oldest, but it has sent a request's start
    BOOST_TEST(closed_by_server(silent[0]));
    BOOST_TEST(closed_by_server(silent[1]));
    BOOST_TEST(!closed_by_server(silent.back()));
    ::close(busy);
    for (int fd : silent)
        ::close(fd);
}

BOOST_AUTO_TEST_CASE(young_connections_keep_their_slot)
{
    // A peer's slots all taken within min_age_ms: its next connection is refused, not let in
    // by closing one that may be about to send its request.
    const auto& limits = admin_server::limits;
    std::vector<int> fds;
    for (std::size_t i = 0; i < limits.max_per_peer; ++i) {
        fds.push_back(connect());
        turn(1, 1);
    }
    const int late = connect();
    turn(2, 1);
    BOOST_TEST(closed_by_server(late));
    for (int fd : fds)
        BOOST_TEST(!closed_by_server(fd));
    const int eager = connect(); // its request is there when it is accepted
    send_text(eager, whole_request);
    BOOST_TEST(read_all(eager).starts_with("HTTP/1.1 200 OK"));
    BOOST_TEST(closed_by_server(fds[0]));
    ::close(fds.front());
    fds.erase(fds.begin());
    now += limits.min_age_ms;
    const int later = connect();
    turn(2, 1);
    BOOST_TEST(!closed_by_server(later));
    BOOST_TEST(closed_by_server(fds[0]));
    for (int fd : fds)
        ::close(fd);
    ::close(late);
    ::close(later);
    ::close(eager);
}

BOOST_AUTO_TEST_CASE(peers_share_the_table)
{
    // Four loopback addresses fill the table (32 each); a fifth peer takes the oldest slot
    // of all, and a full peer's new connection takes its own oldest, not another's.
    const auto& limits = admin_server::limits;
    std::vector<std::vector<int>> by_peer(4);
    for (std::size_t p = 0; p < by_peer.size(); ++p)
        for (std::size_t i = 0; i < limits.max_per_peer; ++i) {
            by_peer[p].push_back(connect_from(fmt::format("127.0.0.{}", p + 1)));
            turn(1, 0); // all within min_age_ms
        }
    std::vector<pollfd> polled;
    server.add_pollfds(polled);
    BOOST_TEST(polled.size() == limits.max_connections + 1);
    // Full and every slot young: a newcomer that has sent nothing is refused...
    const int silent = connect_from("127.0.0.9");
    turn(2, 1);
    BOOST_TEST(closed_by_server(silent));
    BOOST_TEST(!closed_by_server(by_peer[0][0]));
    // ...one that has, or one once the others have aged, takes the oldest slot.
    const int eager = connect_from("127.0.0.9");
    send_text(eager, whole_request);
    turn(2, 1);
    BOOST_TEST(read_all(eager).starts_with("HTTP/1.1 200 OK"));
    BOOST_TEST(closed_by_server(by_peer[0][0])); // the oldest of all
    now += limits.min_age_ms;
    const int fifth = connect_from("127.0.0.9");
    turn(2, 1);
    BOOST_TEST(closed_by_server(by_peer[0][1]));
    BOOST_TEST(!closed_by_server(by_peer[1][0]));
    const int more = connect_from("127.0.0.3");
    turn(2, 1);
    BOOST_TEST(closed_by_server(by_peer[2][0])); // peer 3's own oldest
    BOOST_TEST(!closed_by_server(by_peer[1][0]));
    BOOST_TEST(!closed_by_server(by_peer[0][2]));
    send_text(fifth, whole_request);
    BOOST_TEST(read_all(fifth).starts_with("HTTP/1.1 200 OK"));
    for (auto& fds : by_peer)
        for (int fd : fds)
            ::close(fd);
    ::close(fifth);
    ::close(more);
    ::close(silent);
    ::close(eager);
}

BOOST_AUTO_TEST_CASE(close_after_a_reply_reads_what_is_left_instead_of_resetting)
{
    const int fd = connect();
    // A bad request followed by more bytes the server will never parse.
    const std::string bad = "GET / HTTP/2.0\r\n\r\n" + std::string(20000, 'z');
    ::send(fd, bad.data(), bad.size(), MSG_NOSIGNAL);
    std::string got;
    char buf[4096];
    for (int i = 0; i < 50; ++i) {
        turn(2);
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0)
            break;
        BOOST_REQUIRE_MESSAGE(n > 0 || errno == EAGAIN, "recv: " << std::strerror(errno)); // no ECONNRESET
        if (n > 0)
            got.append(buf, std::size_t(n));
    }
    BOOST_TEST(got.starts_with("HTTP/1.1 505 "));
    BOOST_TEST(got.find("Connection: close") != std::string::npos);
    ::close(fd);
}

BOOST_AUTO_TEST_CASE(requests_follow_the_workers_parser)
{
    // Answered as a worker answers them: status, and whether the connection stays open.
    const struct {
        std::string_view request, status;
        bool closes;
    } cases[] = {
        {"GET /stats HTTP/1.1\r\n\r\n", "400", true},                          // no Host
        {"GET /stats HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400", true}, // two
        {"GET /stats HTTP/1.0\r\n\r\n", "200", true},                          // 1.0: no Host needed
        {"GET http://a/stats?x HTTP/1.1\r\nHost: a\r\n\r\n", "200", false},  // absolute-form
        {"GET /stats HTTP/1.1\nHost: a\n\n", "200", false},                     // bare LF line ends
        {"GET /stats HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "200", false},
        {"GET /stats HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nab", "413", true},
        {"GET /stats HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "413", true},
        {"GET /stats HTTP/1.1\r\nHost: a\r\nExpect: x\r\n\r\n", "417", true},
        {"GET /st ats HTTP/1.1\r\nHost: a\r\n\r\n", "400", true},
        {"GET /stats HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "200", true},
    };
    for (const auto& c : cases) {
        const int fd = connect();
        send_text(fd, c.request);
        const std::string got = read_all(fd);
        BOOST_TEST(got.starts_with(fmt::format("HTTP/1.1 {} ", c.status)), c.request << " -> " << got);
        BOOST_TEST((got.find("Connection: close\r\n") != std::string::npos) == c.closes, c.request);
        ::close(fd);
    }
}

BOOST_AUTO_TEST_SUITE_END()
