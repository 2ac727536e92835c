// The --app flags: each supervised application's command, instance count, health check and
// timeouts, and the rules across them. Owns their syntax and turning each app into an
// upstream the proxy routes to; leaves running the instances to app_group.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/upstream_config.hpp"

namespace ringfork::master {

/// At most this many instances of one app: every one is an address of its upstream.
inline constexpr unsigned max_app_instances = ipc::max_upstream_addresses;

/// One `--app NAME=COMMAND` with its per-app settings applied.
struct app_spec {
    std::string name;                   ///< Also the name of its upstream.
    std::vector<std::string> argv;      ///< COMMAND split like --task's: no shell unless it names one.
    unsigned instances = 1;             ///< --app-instances
    std::string health_path;            ///< --app-health: GET PATH must answer 2xx; empty: accepting is enough.
    unsigned health_timeout_ms = 10000; ///< --app-health-timeout: no passing check this long kills it.
    unsigned start_timeout_ms = 60000;  ///< --app-start-timeout: not ready this long after its start kills it.
    unsigned stop_timeout_ms = 10000;   ///< --app-stop-timeout: from TERM to KILL of its process group.
};

/// Which per-app flag a NAME=VALUE setting came from.
enum class app_setting_kind : std::uint8_t { instances, health, health_timeout, start_timeout, stop_timeout };

/// One per-app flag, kept until every --app is known (flags come in any order).
struct app_setting {
    std::string app;
    app_setting_kind kind = app_setting_kind::instances;
    unsigned number = 0; ///< Instances, or milliseconds.
    std::string text;    ///< The health path.
};

struct app_settings {
    std::vector<app_spec> apps;
    std::vector<app_setting> per_app; ///< Applied in order by resolve_apps: the last one wins.

    /// The app named `name`, or null.
    [[nodiscard]] const app_spec* find(std::string_view name) const noexcept;
};

/// Parses "NAME=COMMAND"; "" or why it is refused (the text after "--app: "). A second
/// --app of the same name replaces the first (a command line over a config file).
[[nodiscard]] std::string parse_app_flag(std::string_view value, app_settings& out);
/// A health path: origin-form ("/health", "/ready?deep=1"), visible ASCII, at most 1 KiB.
[[nodiscard]] bool valid_health_path(std::string_view path) noexcept;

/// The rules across flags, once all are in: every per-app flag names an --app, no --app is
/// also an --upstream, and each app becomes an upstream of `proxy` with no address yet
/// (its ready instances are its addresses), so that --proxy and the --upstream-*-timeout
/// flags can name it. "" or one line saying what is wrong.
[[nodiscard]] std::string resolve_apps(app_settings& a, ipc::proxy_settings& proxy);

} // namespace ringfork::master
