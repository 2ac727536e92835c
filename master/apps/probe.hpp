// One readiness or health check of an app instance, never blocking the master's loop: a
// TCP connect to 127.0.0.1:PORT and, with a health path, `GET PATH` read as far as its
// status line. Owns the check's socket; leaves when to check and what a failure means to
// the instance.
#pragma once

#include <poll.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "net/fd.hpp"

namespace ringfork::master {

class probe {
public:
    enum class result : std::uint8_t { pending, passed, failed };

    /// Starts a check of 127.0.0.1:`port` (ending any check still running); `path` empty:
    /// a connection accepted is a pass. It fails when not done by `now_ms + timeout_ms`.
    result start(std::uint16_t port, std::string_view path, std::uint64_t now_ms, std::uint64_t timeout_ms);
    /// A check is running.
    [[nodiscard]] bool active() const noexcept { return static_cast<bool>(fd_); }
    /// What to poll while a check runs (fd -1 otherwise).
    [[nodiscard]] pollfd poll_entry() const noexcept;
    /// Acts on poll's answer for poll_entry().
    result on_poll(short revents);
    /// Fails a check still running at its deadline.
    result on_time(std::uint64_t now_ms);
    /// When the running check fails unless done; 0 when none runs.
    [[nodiscard]] std::uint64_t deadline_ms() const noexcept { return fd_ ? deadline_ms_ : 0; }
    /// Why the last check failed: "connect: Connection refused", "answered 503", ...
    [[nodiscard]] const std::string& why() const noexcept { return why_; }
    /// Ends a running check without a result.
    void cancel() noexcept { fd_.reset(); }

    /// The status of an HTTP/1.x status line at the start of `head` ("HTTP/1.1 204 ..."):
    /// 100 to 599, or 0 when `head` is not one (yet).
    [[nodiscard]] static unsigned status_of(std::string_view head) noexcept;

private:
    enum class step : std::uint8_t { connecting, sending, reading };

    result fail(std::string why);
    result pass();
    result after_connect();
    result send_more();
    result read_more();

    net::unique_fd fd_;
    step step_ = step::connecting;
    std::string request_;   ///< The GET, sent from `sent_` on.
    std::size_t sent_ = 0;
    std::string answer_;    ///< The answer's first bytes (enough for its status line).
    std::size_t read_ = 0;  ///< Bytes of the answer read.
    std::uint64_t deadline_ms_ = 0;
    std::uint64_t timeout_ms_ = 0;
    std::string why_;
};

} // namespace ringfork::master
