// Readiness and health checks of app instances.
#include "master/apps/probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ringfork::master {

namespace {

/// The part of an answer kept: its status line fits.
constexpr std::size_t status_line_max = 512;
/// Read at most this much of an answer; a health check has no business sending more.
constexpr std::size_t answer_max = 64 * 1024;

} // namespace

unsigned probe::status_of(std::string_view head) noexcept
{
    // "HTTP/1.x SSS" then a space or the line's end.
    if (head.size() < 12 || !head.starts_with("HTTP/1.") || head[7] < '0' || head[7] > '9' || head[8] != ' ')
        return 0;
    unsigned status = 0;
    for (std::size_t i = 9; i < 12; ++i) {
        if (head[i] < '0' || head[i] > '9')
            return 0;
        status = status * 10 + unsigned(head[i] - '0');
    }
    if (head.size() > 12 && head[12] != ' ' && head[12] != '\r' && head[12] != '\n')
        return 0;
    return status >= 100 && status <= 599 ? status : 0;
}

probe::result probe::start(std::uint16_t port, std::string_view path, std::uint64_t now_ms, std::uint64_t timeout_ms)
{
    fd_.reset();
    answer_.clear();
    read_ = 0;
    request_.clear();
    sent_ = 0;
    timeout_ms_ = timeout_ms;
    deadline_ms_ = now_ms + timeout_ms;
    if (!path.empty())
        request_ = fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUser-Agent: ringfork-health\r\n"
                               "Connection: close\r\n\r\n",
                               path, port);
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_)
        return fail(fmt::format("socket: {}", std::strerror(errno)));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(port);
    step_ = step::connecting;
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0)
        return after_connect();
    if (errno == EINPROGRESS)
        return result::pending;
    return fail(fmt::format("connect: {}", std::strerror(errno)));
}

pollfd probe::poll_entry() const noexcept
{
    return {fd_.get(), static_cast<short>(step_ == step::reading ? POLLIN : POLLOUT), 0};
}

probe::result probe::on_poll(short revents)
{
    if (!fd_ || revents == 0)
        return result::pending;
    switch (step_) {
    case step::connecting: {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd_.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        if (err != 0)
            return fail(fmt::format("connect: {}", std::strerror(err)));
        if (!(revents & POLLOUT))
            return result::pending;
        return after_connect();
    }
    case step::sending:
        return send_more();
    case step::reading:
        return read_more();
    }
    return result::pending;
}

probe::result probe::on_time(std::uint64_t now_ms)
{
    if (!fd_ || now_ms < deadline_ms_)
        return result::pending;
    return fail(fmt::format("no answer within {} ms", timeout_ms_));
}

probe::result probe::after_connect()
{
    if (request_.empty())
        return pass();
    step_ = step::sending;
    return send_more();
}

probe::result probe::send_more()
{
    while (sent_ < request_.size()) {
        const ssize_t n = ::send(fd_.get(), request_.data() + sent_, request_.size() - sent_, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return result::pending;
            return fail(fmt::format("send: {}", std::strerror(errno)));
        }
        sent_ += static_cast<std::size_t>(n);
    }
    step_ = step::reading;
    return result::pending;
}

// The answer is read to its end (the request asked for Connection: close), so the app
// never sees its reply cut off by a reset; only its status line is kept.
probe::result probe::read_more()
{
    char buf[4096];
    for (;;) {
        const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN)
                return result::pending;
            return fail(fmt::format("recv: {}", std::strerror(errno)));
        }
        const auto got = static_cast<std::size_t>(n);
        answer_.append(buf, std::min(got, status_line_max - std::min(status_line_max, answer_.size())));
        read_ += got;
        if (n > 0 && read_ < answer_max)
            continue;
        const unsigned status = status_of(answer_);
        if (status == 0)
            return fail(read_ == 0 ? std::string("closed before answering")
                                   : std::string("answered without an HTTP/1.x status line"));
        if (status < 200 || status > 299)
            return fail(fmt::format("answered {}", status));
        return pass();
    }
}

probe::result probe::fail(std::string why)
{
    fd_.reset();
    why_ = std::move(why);
    return result::failed;
}

probe::result probe::pass()
{
    fd_.reset(); // closing with the rest of the answer unread is fine: the check is over
    why_.clear();
    return result::passed;
}

} // namespace ringfork::master
