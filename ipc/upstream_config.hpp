// Upstreams and proxy routes as a worker gets them: each upstream's name, addresses and
// timeouts, and which path prefix goes to which upstream. Owns their syntax and the rules
// that hold across flags (every name known, no prefix twice); leaves reading flags to the
// master's flag table and connecting to the worker's upstream pool.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/route_table.hpp"

namespace ringfork::ipc {

inline constexpr std::size_t max_upstreams = 16;           ///< Upstreams in one configuration.
inline constexpr std::size_t max_upstream_addresses = 16;  ///< Addresses of one upstream at a time.
inline constexpr std::size_t upstream_name_max = 32;
inline constexpr std::size_t upstream_address_text_max = 116; ///< "unix:" and a socket path, with its NUL.

/// One address of an upstream: the text the operator wrote (what the log shows) and the
/// socket address it means.
struct upstream_address {
    std::string text;         ///< "127.0.0.1:3000", "[::1]:3000", "unix:/run/app.sock".
    sockaddr_storage addr{};
    socklen_t length = 0;

    [[nodiscard]] bool is_unix() const noexcept { return addr.ss_family == AF_UNIX; }
};

/// HOST:PORT with a numeric IPv4 host, [IPv6] or localhost (127.0.0.1), port 1 to 65535;
/// or unix:PATH with an absolute path. Nothing is resolved, so starting never waits on DNS.
[[nodiscard]] std::optional<upstream_address> parse_upstream_address(std::string_view text);

/// Per-upstream timeouts, in milliseconds.
struct upstream_timeouts {
    unsigned connect_ms = 5000;      ///< Until the connection is open; else 504.
    unsigned first_byte_ms = 60000;  ///< From the request's last byte sent to the response's first; else 504.
    unsigned idle_ms = 60000;        ///< Longest wait for the upstream to take request bytes or send response bytes.
};

struct upstream_settings {
    std::string name;
    std::vector<upstream_address> addresses; ///< At start; the master may replace them at run time.
    upstream_timeouts timeouts;
};

/// `--proxy PREFIX=NAME`.
struct proxy_route {
    std::string prefix;       ///< Starts with '/'; no trailing '/' except for "/" itself.
    std::string upstream;     ///< The name given.
    std::uint32_t index = 0;  ///< Into proxy_settings::upstreams; set by resolve_proxy().
};

enum class upstream_timeout_kind : std::uint8_t { connect, first_byte, idle };

/// `--upstream-connect-timeout NAME=SECS` and its siblings, applied by resolve_proxy().
struct upstream_timeout_setting {
    std::string upstream;
    upstream_timeout_kind kind = upstream_timeout_kind::connect;
    unsigned ms = 0;
};

struct proxy_settings {
    std::vector<upstream_settings> upstreams;
    std::vector<proxy_route> routes;
    std::vector<upstream_timeout_setting> timeouts;

    /// The upstream named `name`, or -1.
    [[nodiscard]] int find(std::string_view name) const noexcept;
};

/// The methods a --proxy route takes: every one the parser knows but CONNECT (no tunnels)
/// and TRACE (it would echo credentials back through the proxy).
inline constexpr http::method_mask proxied_methods =
    http::bit(http::method::get) | http::bit(http::method::head) | http::bit(http::method::post) |
    http::bit(http::method::put) | http::bit(http::method::delete_) | http::bit(http::method::options) |
    http::bit(http::method::patch);

/// The route patterns a --proxy prefix is served under: the path itself and everything
/// under it ("/{*path}" for "/"). The master checks them against every other route.
[[nodiscard]] std::vector<std::string> proxy_patterns(std::string_view prefix);

/// Parses "NAME=ADDR[,ADDR...]"; "" or why it is refused (the text after "--upstream: ").
[[nodiscard]] std::string parse_upstream_flag(std::string_view value, upstream_settings& out);
/// Parses "PREFIX=NAME"; "" or why it is refused.
[[nodiscard]] std::string parse_proxy_flag(std::string_view value, proxy_route& out);
/// An upstream name: 1 to 32 letters, digits, '-' and '_'.
[[nodiscard]] bool valid_upstream_name(std::string_view name) noexcept;

/// The rules across flags, once all are in: upstream names unique and at most
/// max_upstreams, every --proxy and timeout naming a known upstream, no prefix twice, and
/// no --proxy of "/" beside a static root (which would then serve nothing). Sets each
/// route's index and applies the timeouts. "" or one line saying what is wrong.
[[nodiscard]] std::string resolve_proxy(proxy_settings& p, bool root_served);

} // namespace ringfork::ipc
