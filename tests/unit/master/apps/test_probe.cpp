// Readiness and health checks against real loopback sockets.
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "master/apps/probe.hpp"
#include "net/fd.hpp"
#include "tests/unit/master/apps/loopback_listener.hpp"

using namespace ringfork::master;
using ringfork::net::unique_fd;

namespace {

using listener = ringfork::test::loopback_listener;

/// Drives `p` with poll until it is done or 2 s passed; `serve` runs with the accepted
/// socket once the probe has sent its whole request (it then waits for the answer).
template <class F> probe::result drive(probe& p, probe::result r, listener* l, F serve, std::uint64_t now = 0)
{
    bool served = false;
    for (int round = 0; round < 200 && r == probe::result::pending; ++round) {
        pollfd pf = p.poll_entry();
        if (::poll(&pf, 1, 10) == 1)
            r = p.on_poll(pf.revents);
        if (l && !served && r == probe::result::pending && p.poll_entry().events == POLLIN) {
            pollfd a{l->fd.get(), POLLIN, 0};
            if (::poll(&a, 1, 0) == 1) {
                unique_fd c(::accept4(l->fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
                serve(c.get());
                served = true;
            }
        }
        now += 10;
        if (r == probe::result::pending)
            r = p.on_time(now);
    }
    return r;
}

void answer(int fd, const std::string& text)
{
    char buf[1024];
    (void)::recv(fd, buf, sizeof buf, 0);
    (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
}

} // namespace

BOOST_AUTO_TEST_SUITE(probe_checks)

BOOST_AUTO_TEST_CASE(status_lines)
{
    BOOST_TEST(probe::status_of("HTTP/1.1 200 OK\r\n") == 200u);
    BOOST_TEST(probe::status_of("HTTP/1.0 204\r\n") == 204u);
    BOOST_TEST(probe::status_of("HTTP/1.1 503 Busy") == 503u);
    BOOST_TEST(probe::status_of("HTTP/1.1 20") == 0u);
    BOOST_TEST(probe::status_of("HTTP/2 200 OK\r\n") == 0u);
    BOOST_TEST(probe::status_of("HTTP/1.1 2000 OK\r\n") == 0u);
    BOOST_TEST(probe::status_of("HTTP/1.1 099 x\r\n") == 0u);
    BOOST_TEST(probe::status_of("SSH-2.0-OpenSSH\r\n") == 0u);
}

BOOST_AUTO_TEST_CASE(accepting_is_enough_without_a_path)
{
    listener l;
    probe p;
    BOOST_TEST(int(drive(p, p.start(l.port, "", 0, 1000), nullptr, [](int) {})) == int(probe::result::passed));
    BOOST_TEST(!p.active());
}

BOOST_AUTO_TEST_CASE(nothing_listening_fails_with_the_cause)
{
    std::uint16_t port;
    {
        listener gone;
        port = gone.port;
    }
    probe p;
    BOOST_TEST(int(drive(p, p.start(port, "", 0, 1000), nullptr, [](int) {})) == int(probe::result::failed));
    BOOST_TEST(p.why() == "connect: Connection refused");
}

BOOST_AUTO_TEST_CASE(a_2xx_answer_passes_and_others_fail)
{
    listener l;
    probe p;
    std::string seen;
    auto r = drive(p, p.start(l.port, "/health", 0, 1000), &l, [&](int fd) {
        char buf[1024];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        seen.assign(buf, n > 0 ? std::size_t(n) : 0);
        const std::string ok = "HTTP/1.1 204 No Content\r\n\r\n";
        (void)::send(fd, ok.data(), ok.size(), MSG_NOSIGNAL);
    });
    BOOST_TEST(int(r) == int(probe::result::passed));
    BOOST_TEST(seen.starts_with("GET /health HTTP/1.1\r\nHost: 127.0.0.1:"));
    BOOST_TEST(seen.find("Connection: close\r\n\r\n") != std::string::npos);

    r = drive(p, p.start(l.port, "/health", 0, 1000), &l, [](int fd) { answer(fd, "HTTP/1.1 503 Busy\r\n\r\n"); });
    BOOST_TEST(int(r) == int(probe::result::failed));
    BOOST_TEST(p.why() == "answered 503");

    r = drive(p, p.start(l.port, "/health", 0, 1000), &l, [](int fd) { answer(fd, "garbage\r\n"); });
    BOOST_TEST(int(r) == int(probe::result::failed));
    BOOST_TEST(p.why() == "answered without an HTTP/1.x status line");

    r = drive(p, p.start(l.port, "/health", 0, 1000), &l, [](int fd) {
        char buf[1024];
        (void)::recv(fd, buf, sizeof buf, 0); // the request read, then closed unanswered
    });
    BOOST_TEST(int(r) == int(probe::result::failed));
    BOOST_TEST(p.why() == "closed before answering");
}

BOOST_AUTO_TEST_CASE(silence_fails_at_the_deadline)
{
    listener l;
    probe p;
    unique_fd held;
    const auto r = drive(p, p.start(l.port, "/health", 0, 300), &l, [&](int fd) { held.reset(::dup(fd)); });
    BOOST_TEST(int(r) == int(probe::result::failed));
    BOOST_TEST(p.why() == "no answer within 300 ms");
}

BOOST_AUTO_TEST_SUITE_END()
