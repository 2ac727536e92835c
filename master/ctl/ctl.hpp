// The client side of the control socket: `ringfork ctl` (one command, print the answer)
// and `ringfork top` (a live terminal view). Owns argument handling, the client connection
// and the top screen; leaves every figure to the master's answers.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "master/admin/stats_view.hpp"

namespace ringfork::master {

/// `ringfork ctl [--control PATH] [--json] COMMAND [ARG]`; returns the exit code
/// (0 ok, 1 the server refused or is unreachable, 2 bad usage). `args` follow "ctl".
int run_ctl(std::span<const char* const> args);

/// `ringfork top [--control PATH] [--interval SECS]`; returns the exit code.
int run_top(std::span<const char* const> args);

/// The control path used when --control is absent: $RINGFORK_CONTROL, else none.
[[nodiscard]] std::optional<std::string> default_control_path();

/// Sends one request line and reads the whole answer. On success returns the body after
/// "ok\n"; otherwise nullopt with `error` set (the server's reason, or the failed call).
[[nodiscard]] std::optional<std::string> control_request(const std::string& path, const std::string& line,
                                                         std::string& error);

/// One frame of `ringfork top`: rates come from `prev` (null on the first frame) over
/// `dt_s` seconds; `history` is total requests/s, oldest first. Lines fit `cols` columns.
[[nodiscard]] std::string render_top(const stats_model& cur, const stats_model* prev, double dt_s,
                                     const std::vector<double>& history, unsigned cols);

} // namespace ringfork::master
