// A listening socket and its non-blocking connections for the master's poll loop: the
// poll-set bookkeeping, accepting, sending queued bytes and expiring deadlines, shared by
// the admin listener and the control socket. Owns the descriptors and deadlines; leaves
// the protocol to the server that uses it.
#pragma once

#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/error.hpp"
#include "net/fd.hpp"
#include "net/log.hpp"

namespace ringfork::master {

/// What every poll_table connection has; a server may derive to add its own state.
struct poll_connection {
    net::unique_fd fd;
    std::string in;                ///< Request bytes not yet acted on.
    std::string out;               ///< Reply bytes; `sent` of them are out.
    std::size_t sent = 0;
    std::uint64_t deadline_ms = 0; ///< Dropped once the clock reaches it.
    bool dead = false;             ///< Dropped at the end of handle().
};

template <class Connection>
class poll_table {
public:
    poll_table(std::size_t max_connections, std::uint64_t timeout_ms) noexcept
        : max_connections_(max_connections), timeout_ms_(timeout_ms)
    {
    }

    net::unique_fd listener;
    std::vector<Connection> conns;

    /// Appends the descriptors to poll: the listener (left out while full, so the kernel
    /// queues new clients meanwhile) and every connection, for reading or for writing.
    void add_pollfds(std::vector<pollfd>& fds) const
    {
        if (!listener)
            return;
        fds.push_back({conns.size() < max_connections_ ? listener.get() : -1, POLLIN, 0});
        for (const Connection& c : conns)
            fds.push_back({c.fd.get(), static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
    }

    /// `fds` mirrors add_pollfds: calls on_event(connection, revents) for each connection
    /// with events, accepts new connections, then drops the dead and those past their
    /// deadline. `what` names the listener in an accept error.
    template <class OnEvent>
    void handle(std::span<const pollfd> fds, std::uint64_t now_ms, std::string_view what, OnEvent&& on_event)
    {
        if (!listener || fds.empty())
            return;
        // Accepting only appends, so conns still lines up with fds here.
        const std::size_t known = std::min(conns.size(), fds.size() - 1);
        for (std::size_t i = 0; i < known; ++i) {
            const short ev = fds[i + 1].revents;
            if (ev && conns[i].fd.get() == fds[i + 1].fd)
                on_event(conns[i], ev);
        }
        while ((fds[0].revents & POLLIN) && conns.size() < max_connections_) {
            const int fd = ::accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                    net::log::warn("{}", net::sys_error("accept4", what, errno));
                break;
            }
            Connection c;
            c.fd.reset(fd);
            c.deadline_ms = now_ms + timeout_ms_;
            conns.push_back(std::move(c));
        }
        for (Connection& c : conns)
            if (now_ms >= c.deadline_ms)
                c.dead = true;
        std::erase_if(conns, [](const Connection& c) { return c.dead; });
    }

    /// Sends what is left of `c.out`, moving the deadline with each bit of progress. True
    /// once all of it is out; false while the socket is full (poll for POLLOUT) or when the
    /// connection failed (then `dead`).
    bool send_queued(Connection& c, std::uint64_t now_ms)
    {
        while (c.sent < c.out.size()) {
            const ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n < 0) {
                if (errno != EAGAIN && errno != EINTR)
                    c.dead = true;
                return false;
            }
            c.sent += std::size_t(n);
            c.deadline_ms = now_ms + timeout_ms_;
        }
        return true;
    }

    /// The earliest connection deadline, or 0 when there is none.
    [[nodiscard]] std::uint64_t next_deadline_ms() const noexcept
    {
        std::uint64_t next = 0;
        for (const Connection& c : conns)
            if (!next || c.deadline_ms < next)
                next = c.deadline_ms;
        return next;
    }

    [[nodiscard]] std::uint64_t timeout_ms() const noexcept { return timeout_ms_; }

private:
    std::size_t max_connections_;
    std::uint64_t timeout_ms_;
};

} // namespace ringfork::master
