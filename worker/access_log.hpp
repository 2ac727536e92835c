// Per-worker access log in nginx's "combined" format, buffered in memory and written in
// large appends to a descriptor the master opened and hands over again after each reopen
// (logrotate), so a worker needs no permission on the log's path. Owns the line format and
// the descriptor once handed over; leaves opening the file to the master and deciding when
// to flush to the loop.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <string_view>

#include "net/fd.hpp"
#include "net/http_parser.hpp"

namespace ringfork::worker {

class access_log {
public:
    static constexpr std::size_t flush_bytes = 64 * 1024;

    /// Appends to `fd`, a file the master opened for appending; `path` names it in messages.
    [[nodiscard]] static access_log adopt(net::unique_fd fd, std::string path);

    access_log() = default;
    [[nodiscard]] bool enabled() const noexcept { return static_cast<bool>(fd_); }

    /// Appends one line; flushes when the buffer is large.
    void record(std::string_view peer, const http::request_summary& req, unsigned status, std::uint64_t body_bytes,
                std::time_t now);
    /// Writes what is buffered.
    void flush() noexcept;
    /// Flushes to the current file, then continues in `fd`, the file the master has just
    /// reopened (the old one may have been renamed away). An empty `fd` keeps the current file.
    void reopen(net::unique_fd fd);

private:
    void stamp(std::time_t now);

    std::string path_;
    net::unique_fd fd_;
    std::string buffer_;
    std::time_t stamped_ = -1;
    char time_local_[32] = {}; ///< "24/Nov/2026:00:37:53 +0000"
};

/// Appends `s` to `out` with '"', '\\' and bytes outside printable ASCII written as \xHH.
void append_escaped(std::string& out, std::string_view s);

} // namespace ringfork::worker
