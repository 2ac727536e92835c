// A listening socket and its non-blocking connections for the master's poll loop: the
// poll-set bookkeeping, accepting, sending queued bytes, deadlines, eviction and lingering
// closes, shared by the admin listener and the control socket. Owns the descriptors, the
// deadlines and who gets a slot; leaves the protocol to the server that uses it.
//
// A hostile client must not keep others out: a connection that has sent nothing is
// dropped after `first_byte_ms`; when the table is full (or a peer has `max_per_peer`
// connections), a new connection takes the slot of the oldest one that owes no reply,
// preferring one that has sent nothing over one with a request under way. A connection
// younger than `min_age_ms` keeps its slot against a newcomer that has sent nothing yet
// either, so its first bytes have time to arrive; a newcomer whose request is already
// there takes any slot that owes no reply. A newcomer that finds no slot is closed, and at
// most `accepts_per_turn` are accepted per loop turn.
#pragma once

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <utility>
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
    std::uint64_t since_ms = 0;    ///< Accepted, or last reply finished: eviction takes the oldest.
    bool heard = false;            ///< Bytes arrived since `since_ms`.
    bool lingering = false;        ///< Last reply sent, write side shut: input is read and dropped.
    bool dead = false;             ///< Dropped at the end of handle().
    std::array<unsigned char, 16> peer{}; ///< The peer's IP address (zero for Unix sockets).
};

/// Bounds and deadlines of one table.
struct poll_limits {
    std::size_t max_connections = 64;
    std::size_t max_per_peer = 0;          ///< Connections from one IP address; 0: no cap.
    std::uint64_t first_byte_ms = 1'000;   ///< A connection that has sent nothing since accept or its last reply.
    std::uint64_t request_ms = 5'000;      ///< From a request's first byte until it is answered.
    std::uint64_t idle_ms = 10'000;        ///< Keep-alive between requests, and a reply without send progress.
    std::uint64_t linger_ms = 1'000;       ///< Reading what a client still sends after the last reply.
    std::uint64_t min_age_ms = 100;        ///< Younger connections are not evicted.
    std::size_t accepts_per_turn = 64;     ///< So a connection flood cannot hold the master's loop.
};

template <class Connection>
class poll_table {
public:
    explicit poll_table(poll_limits limits) noexcept : limits_(limits) {}

    net::unique_fd listener;
    std::vector<Connection> conns;

    /// Appends the descriptors to poll: the listener and every connection, for reading or
    /// for writing.
    void add_pollfds(std::vector<pollfd>& fds) const
    {
        if (!listener)
            return;
        fds.push_back({listener.get(), POLLIN, 0});
        for (const Connection& c : conns)
            fds.push_back({c.fd.get(), static_cast<short>(c.out.empty() ? POLLIN : POLLOUT), 0});
    }

    /// `fds` mirrors add_pollfds: calls on_event(connection, revents) for each connection
    /// with events (a lingering one is read and dropped here), accepts new connections
    /// (on_event(c, POLLIN) at once, for bytes that came with them), then drops the dead and
    /// those past their deadline. `what` names the listener in an accept error.
    template <class OnEvent>
    void handle(std::span<const pollfd> fds, std::uint64_t now_ms, std::string_view what, OnEvent&& on_event)
    {
        if (!listener || fds.empty())
            return;
        // Accepting only appends, so conns still lines up with fds here.
        const std::size_t known = std::min(conns.size(), fds.size() - 1);
        for (std::size_t i = 0; i < known; ++i) {
            const short ev = fds[i + 1].revents;
            if (!ev || conns[i].fd.get() != fds[i + 1].fd)
                continue;
            if (conns[i].lingering)
                drain_input(conns[i]);
            else
                on_event(conns[i], ev);
        }
        std::erase_if(conns, [](const Connection& c) { return c.dead; });
        if (fds[0].revents & POLLIN)
            accept_new(now_ms, what, on_event);
        for (Connection& c : conns)
            if (now_ms >= c.deadline_ms)
                c.dead = true;
        std::erase_if(conns, [](const Connection& c) { return c.dead; });
    }

    /// Call when request bytes arrive: the request deadline starts with its first byte.
    void received(Connection& c, std::uint64_t now_ms) const noexcept
    {
        if (c.heard)
            return;
        c.heard = true;
        c.deadline_ms = now_ms + limits_.request_ms;
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
            c.deadline_ms = now_ms + limits_.idle_ms;
        }
        return true;
    }

    /// A reply is out and the connection stays open for the next request (keep-alive).
    void await_next(Connection& c, std::uint64_t now_ms) const noexcept
    {
        c.out.clear();
        c.sent = 0;
        c.since_ms = now_ms;
        c.heard = !c.in.empty();
        c.deadline_ms = now_ms + (c.heard ? limits_.request_ms : limits_.idle_ms);
    }

    /// The last reply is out: shuts the write side and reads until the client closes (or
    /// `linger_ms`), so unread input never turns the close into a reset that could destroy
    /// the reply before the client has read it.
    void close_after_reply(Connection& c, std::uint64_t now_ms) const noexcept
    {
        ::shutdown(c.fd.get(), SHUT_WR);
        c.lingering = true;
        c.in.clear();
        c.deadline_ms = now_ms + limits_.linger_ms;
        drain_input(c);
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

    [[nodiscard]] const poll_limits& limits() const noexcept { return limits_; }

private:
    /// Reads and drops what a lingering connection sends; EOF or an error ends it.
    static void drain_input(Connection& c) noexcept
    {
        char buf[4096];
        for (int i = 0; i < 16; ++i) {
            const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0)
                continue;
            if (n == 0 || (errno != EAGAIN && errno != EINTR))
                c.dead = true;
            return;
        }
    }

    /// Whether `c` may give up its slot to a newcomer: it owes no reply, and it is old
    /// enough unless the newcomer has already sent its request.
    bool evictable(const Connection& c, std::uint64_t now_ms, bool newcomer_sent) const noexcept
    {
        return !c.dead && !c.lingering && c.out.empty() && (newcomer_sent || now_ms >= c.since_ms + limits_.min_age_ms);
    }

    /// The connection that gives up its slot: one that has sent nothing before one with a
    /// request under way, the oldest first, among those of `peer` when given; conns.size()
    /// when there is none.
    std::size_t victim(const std::array<unsigned char, 16>* peer, std::uint64_t now_ms, bool newcomer_sent) const noexcept
    {
        std::size_t best = conns.size();
        for (std::size_t i = 0; i < conns.size(); ++i) {
            const Connection& c = conns[i];
            if (!evictable(c, now_ms, newcomer_sent) || (peer && c.peer != *peer))
                continue;
            if (best == conns.size() || std::pair(c.heard, c.since_ms) < std::pair(conns[best].heard, conns[best].since_ms))
                best = i;
        }
        return best;
    }

    template <class OnEvent>
    void accept_new(std::uint64_t now_ms, std::string_view what, OnEvent& on_event)
    {
        for (std::size_t n = 0; n < limits_.accepts_per_turn; ++n) {
            sockaddr_storage sa{};
            socklen_t len = sizeof sa;
            net::unique_fd fd(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
            if (!fd) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                    net::log::warn("{}", net::sys_error("accept4", what, errno));
                return;
            }
            char first;
            const bool sent = ::recv(fd.get(), &first, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
            std::array<unsigned char, 16> peer{};
            if (sa.ss_family == AF_INET)
                std::memcpy(peer.data(), &reinterpret_cast<const sockaddr_in&>(sa).sin_addr, 4);
            else if (sa.ss_family == AF_INET6)
                std::memcpy(peer.data(), &reinterpret_cast<const sockaddr_in6&>(sa).sin6_addr, 16);
            // A peer at its cap gives way from its own connections (which frees a slot of the
            // table too); otherwise a full table gives way from anyone's.
            const bool peer_full =
                limits_.max_per_peer && sa.ss_family != AF_UNIX &&
                static_cast<std::size_t>(std::count_if(conns.begin(), conns.end(),
                                                       [&](const Connection& c) { return c.peer == peer; })) >=
                    limits_.max_per_peer;
            if (peer_full || conns.size() >= limits_.max_connections) {
                const std::size_t v = victim(peer_full ? &peer : nullptr, now_ms, sent);
                if (v == conns.size())
                    continue; // no slot can be had: this newcomer is closed
                conns.erase(conns.begin() + static_cast<std::ptrdiff_t>(v));
            }
            Connection c;
            c.fd = std::move(fd);
            c.peer = peer;
            c.since_ms = now_ms;
            c.deadline_ms = now_ms + limits_.first_byte_ms;
            conns.push_back(std::move(c));
            on_event(conns.back(), POLLIN);
            if (conns.back().dead)
                conns.pop_back(); // gone already (a client that connected and closed): no slot held
        }
    }

    poll_limits limits_;
};

} // namespace ringfork::master
