// The master's control socket (--control PATH): a Unix stream socket answering one
// command line per connection (ipc/control.hpp), driven by the master's poll loop. Owns the
// socket file, its permissions and takeover rule, and the command table; leaves what each
// command does to the function the master registers for it.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "master/admin/poll_table.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

/// A command's answer: "ok\n" + body, or "error " + body.
struct control_reply {
    bool ok = true;
    std::string body;
};

/// Runs one command; `argument` is the rest of the line after the command name.
using control_command = std::function<control_reply(std::string_view argument)>;

class control_server {
public:
    /// 16 connections; a new one takes the slot of the oldest that owes no reply. Nothing
    /// sent for 1 s, or no whole line or send progress for 5 s: closed.
    static constexpr poll_limits limits{.max_connections = 16,
                                        .max_per_peer = 0,
                                        .first_byte_ms = 1'000,
                                        .request_ms = 5'000,
                                        .idle_ms = 5'000};
    static constexpr int backlog = 512;

    control_server() = default;
    control_server(const control_server&) = delete;
    control_server& operator=(const control_server&) = delete;
    ~control_server() { close(); }

    /// Creates the socket at `path` with mode 0600. Refuses a path where a server answers
    /// (connect() succeeds) or that is not a socket; removes a stale socket first.
    [[nodiscard]] bool open(const std::string& path, std::string& error);
    [[nodiscard]] bool is_open() const noexcept { return static_cast<bool>(table_.listener); }
    /// Serves a listening socket inherited from the master this one upgrades (binary upgrade).
    void adopt(int fd, const std::string& path);
    /// Closes this master's copy without removing the file: a successor now serves it.
    void release();
    /// The listening descriptor (to hand to a successor), or -1.
    [[nodiscard]] int listener_fd() const noexcept { return table_.listener.get(); }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }
    /// Registers `name`; a later registration of the same name replaces it.
    void add(std::string_view name, control_command command);
    /// Appends the descriptors to poll: the listener (unless full) and every connection.
    void add_pollfds(std::vector<pollfd>& fds) const { table_.add_pollfds(fds); }
    /// Acts on the poll results of the descriptors add_pollfds appended, then on timeouts.
    void handle(std::span<const pollfd> fds, std::uint64_t now_ms);
    /// The earliest connection deadline, or 0 when there is none.
    [[nodiscard]] std::uint64_t next_deadline_ms() const noexcept { return table_.next_deadline_ms(); }
    /// Closes everything and removes the socket file if it is still the one this created.
    void close();

    /// Runs one request line against the command table (exposed for tests).
    [[nodiscard]] control_reply dispatch(std::string_view line) const;

private:
    using connection = poll_connection;

    void on_readable(connection& c, std::uint64_t now_ms);
    void flush(connection& c, std::uint64_t now_ms);

    poll_table<connection> table_{limits};
    std::string path_;
    dev_t dev_ = 0;
    ino_t ino_ = 0;
    std::vector<std::pair<std::string, control_command>> commands_;
};

} // namespace ringfork::master
