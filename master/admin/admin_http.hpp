// The master's admin listener: a small non-blocking HTTP/1.1 server driven by the master's
// poll loop (GET and HEAD, keep-alive, no bodies). Owns its sockets, bounds and timeouts;
// leaves request syntax to net's parser and what each path answers to the handler the
// master gives it.
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "master/admin/poll_table.hpp"
#include "net/address.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

/// One answer of the admin handler.
struct admin_response {
    unsigned status = 200;
    std::string_view content_type = "text/plain; charset=utf-8";
    std::string body;
};

/// Maps a request path (query string removed) to a response; called for GET and HEAD.
using admin_handler = std::function<admin_response(std::string_view path)>;

class admin_server {
public:
    static constexpr std::size_t max_head = 8 * 1024;      ///< Larger request heads: 431 and close.
    /// 128 connections, 32 per peer address; a new one takes the slot of the oldest that
    /// owes no reply (poll_table). Nothing sent for 1 s, a request head not complete 5 s
    /// after its first byte, 10 s of keep-alive or without send progress: closed.
    static constexpr poll_limits limits{.max_connections = 128,
                                        .max_per_peer = 32,
                                        .first_byte_ms = 1'000,
                                        .request_ms = 5'000,
                                        .idle_ms = 10'000};
    static constexpr int backlog = 1024;
    /// TCP_DEFER_ACCEPT: a connection that sends nothing stays in the kernel this long
    /// before it takes a slot (a probe's request comes with its connection).
    static constexpr unsigned defer_accept_s = 1;

    /// Binds and listens on `addr` (port 0 picks one); sets `error` and returns false on failure.
    [[nodiscard]] bool open(const net::address& addr, admin_handler handler, std::string& error);
    /// The bound address (with the chosen port).
    [[nodiscard]] const net::address& address() const noexcept { return bound_; }
    [[nodiscard]] bool is_open() const noexcept { return static_cast<bool>(table_.listener); }
    /// Serves a listening socket inherited from the master this one upgrades.
    void adopt(int fd, admin_handler handler);
    /// The listening descriptor (to hand to a successor), or -1.
    [[nodiscard]] int listener_fd() const noexcept { return table_.listener.get(); }
    /// Appends the descriptors to poll: the listener (unless full) and every connection.
    void add_pollfds(std::vector<pollfd>& fds) const { table_.add_pollfds(fds); }
    /// Acts on the poll results of the descriptors add_pollfds appended, then on timeouts.
    void handle(std::span<const pollfd> fds, std::uint64_t now_ms);
    /// The earliest connection deadline, or 0 when there is none.
    [[nodiscard]] std::uint64_t next_deadline_ms() const noexcept { return table_.next_deadline_ms(); }
    /// Closes the listener and every connection.
    void close();

private:
    /// `in`: unparsed request bytes, at most max_head; `out`: one response at a time.
    struct connection : poll_connection {
        bool close_after = false; ///< Close once `out` is sent.
    };

    void on_readable(connection& c, std::uint64_t now_ms);
    void serve_buffered(connection& c, std::uint64_t now_ms);
    void respond(connection& c, unsigned status, std::string_view type, std::string_view body, bool head_only,
                 std::string_view extra_headers = {});
    void flush(connection& c, std::uint64_t now_ms);

    poll_table<connection> table_{limits};
    net::address bound_;
    admin_handler handler_;
};

} // namespace ringfork::master
