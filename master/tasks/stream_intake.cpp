// The stream intake.
#include "master/tasks/stream_intake.hpp"

#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::master {

namespace {

/// A worker sends the header with its first send: this is generous.
constexpr std::uint64_t header_timeout_ms = 5000;
/// Connections with a header still coming, at most.
constexpr std::size_t max_pending = 1024;

} // namespace

bool stream_intake::open(std::string& error)
{
    std::uint64_t nonce = 0;
    if (::getrandom(&nonce, sizeof nonce, 0) != static_cast<ssize_t>(sizeof nonce)) {
        error = net::sys_error("getrandom", "task intake address", errno);
        return false;
    }
    address_ = fmt::format("@ringfork-tasks-{}-{:016x}", ::getpid(), nonce);
    sockaddr_un sa{};
    socklen_t len = 0;
    if (!ipc::task_pool_sockaddr(address_, sa, len)) {
        error = fmt::format("task intake address {} too long", address_);
        return false;
    }
    listener_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!listener_) {
        error = net::sys_error("socket(AF_UNIX)", address_, errno);
        return false;
    }
    if (::bind(listener_.get(), reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
        error = net::sys_error("bind", address_, errno);
        return false;
    }
    // The queue is the broker's; the backlog only absorbs a burst between two loop turns.
    if (::listen(listener_.get(), 4096) != 0) {
        error = net::sys_error("listen", address_, errno);
        return false;
    }
    return true;
}

void stream_intake::add_pollfds(std::vector<pollfd>& fds) const
{
    fds.push_back({listener_.get(), POLLIN, 0});
    for (const pending& p : pending_)
        fds.push_back({p.fd.get(), POLLIN, 0});
}

void stream_intake::handle(std::span<const pollfd> polled, std::uint64_t now_ms, const on_request& take)
{
    // Headers first: accepting below may move pending_ (the polled entries name fds).
    for (std::size_t i = 1; i < polled.size(); ++i) {
        if (!polled[i].revents)
            continue;
        for (pending& p : pending_)
            if (p.fd.get() == polled[i].fd)
                read_head(p, take);
    }
    std::erase_if(pending_, [](const pending& p) { return !p.fd; });
    if (polled.empty() || !(polled[0].revents & POLLIN) || !listener_)
        return;
    for (std::size_t n = 0; n < 256 && pending_.size() < max_pending; ++n) {
        net::unique_fd fd(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (!fd) {
            if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                net::log::warn("{}", net::sys_error("accept4", "task intake", errno));
            break;
        }
        pending p;
        p.fd = std::move(fd);
        p.deadline_ms = now_ms + header_timeout_ms;
        read_head(p, take); // usually complete already: the worker sent it with connect
        if (p.fd)
            pending_.push_back(std::move(p));
    }
}

void stream_intake::read_head(pending& p, const on_request& take)
{
    auto* dst = reinterpret_cast<char*>(&p.head);
    // Exactly the header: the body behind it is the runner's to read.
    const ssize_t n = ::recv(p.fd.get(), dst + p.got, sizeof p.head - p.got, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        p.fd.reset(); // closed before its header came
        return;
    }
    p.got += static_cast<std::size_t>(n);
    if (p.got < sizeof p.head)
        return;
    if (p.head.version != ipc::task_stream_version) {
        net::log::warn("task intake: job request version {} (want {}), connection closed", p.head.version,
                       ipc::task_stream_version);
        p.fd.reset();
        return;
    }
    take(p.head, std::move(p.fd));
}

std::uint64_t stream_intake::expire(std::uint64_t now_ms)
{
    std::erase_if(pending_, [&](const pending& p) { return now_ms >= p.deadline_ms; });
    std::uint64_t next = 0;
    for (const pending& p : pending_)
        next = next == 0 ? p.deadline_ms : std::min(next, p.deadline_ms);
    return next;
}

void stream_intake::close()
{
    listener_.reset();
    pending_.clear();
}

} // namespace ringfork::master
