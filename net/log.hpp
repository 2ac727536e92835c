// Process-wide logging: one line per event on stderr (or the error log file), each with a
// UTC timestamp, the process role and pid. Owns formatting; leaves what to log to callers.
#pragma once

#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace ringfork::net::log {

enum class level : unsigned char { info, warn, error };

/// Names this process in every line ("master", "worker 3").
void set_role(std::string_view role);
/// Sends later lines to `fd` (default 2). The caller keeps the fd open.
void set_fd(int fd);
/// Writes one line with a single write(2), so lines from several processes never interleave.
void write(level lv, std::string_view message);

template <typename... A> void info(fmt::format_string<A...> f, A&&... a)
{
    write(level::info, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A> void warn(fmt::format_string<A...> f, A&&... a)
{
    write(level::warn, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A> void error(fmt::format_string<A...> f, A&&... a)
{
    write(level::error, fmt::format(f, std::forward<A>(a)...));
}

} // namespace ringfork::net::log
