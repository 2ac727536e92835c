// The control-socket protocol spoken between `ringfork ctl`/`ringfork top` and the master.
// Owns the wire rules and command names; leaves serving to master/control, asking to master/ctl.
#pragma once

#include <cstddef>
#include <string_view>

namespace ringfork::ipc::control {

// One request per connection, on a SOCK_STREAM Unix socket:
//
//   client: one line, "<command>[ <argument>]\n", at most max_request bytes
//   server: "ok\n" then the body, or "error <one-line reason>\n"; then it closes
//
// so `echo stats | socat - UNIX-CONNECT:/path` works as well as `ringfork ctl`.
// The body of "model" is the versioned line format of master/stats_view (model_magic);
// the other bodies are meant for people or, with the "json" argument, for tools.

inline constexpr std::size_t max_request = 256;   ///< Longer request lines are refused.
inline constexpr std::string_view ok_line = "ok\n";
inline constexpr std::string_view error_prefix = "error ";

/// Commands the master answers.
inline constexpr std::string_view cmd_stats = "stats";     ///< Totals table; "stats json": the /stats document.
inline constexpr std::string_view cmd_workers = "workers"; ///< Per-worker table; "workers json": their JSON array.
inline constexpr std::string_view cmd_apps = "apps";       ///< Per-instance table of --app; "apps json": a JSON array.
inline constexpr std::string_view cmd_metrics = "metrics"; ///< The Prometheus text of /metrics.
inline constexpr std::string_view cmd_model = "model";     ///< Machine-readable snapshot for ctl and top.
inline constexpr std::string_view cmd_stop = "stop";       ///< Graceful stop, as SIGTERM.
inline constexpr std::string_view cmd_reload = "reload";   ///< Rolling restart, as SIGHUP.
inline constexpr std::string_view cmd_upgrade = "upgrade"; ///< Binary upgrade, as SIGUSR2.
inline constexpr std::string_view cmd_scale = "scale";     ///< "scale N": N worker slots, as TTIN/TTOU to N.
inline constexpr std::string_view cmd_tasks = "tasks";     ///< Running and queued jobs; "tasks json": their JSON array.
inline constexpr std::string_view cmd_cancel = "cancel";   ///< "cancel ID": cancel a queued or running job.

/// First line of a model body; a reader refuses any other version.
inline constexpr std::string_view model_magic = "ringfork-model 1";

} // namespace ringfork::ipc::control
