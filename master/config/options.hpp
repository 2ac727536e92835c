// Command-line options: parsing, the config file, defaults and the help text, all driven
// by the flag table (flag_table.hpp). Owns turning argv into settings; leaves acting on
// them to the master.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "ipc/worker_start.hpp"
#include "master/apps/app_settings.hpp"
#include "master/config/run_as.hpp"
#include "master/tasks/task_settings.hpp"
#include "net/address.hpp"

namespace ringfork::detail {
struct app_spec;
} // namespace ringfork::detail

namespace ringfork::master {

enum class accept_mode { reuseport, shared };

struct options {
    std::vector<net::address> listen;   ///< Default: 127.0.0.1:8080.
    unsigned workers = 0;               ///< 0 means auto.
    accept_mode accept = accept_mode::reuseport;
    unsigned defer_accept_s = 1;        ///< --defer-accept: TCP_DEFER_ACCEPT on the listeners; 0: off.
    std::string pid_file;
    double shutdown_timeout_s = 30;     ///< Drain budget before SIGKILL.
    std::string control_path;           ///< --control: the control socket; empty: none.
    std::vector<net::address> admin;    ///< --admin: at most one admin HTTP listener.
    bool admin_public = false;          ///< --admin-public: allow a non-loopback admin address.
    ipc::worker_settings worker;
    std::string config_path;            ///< --config: TOML file re-read on HUP.
    unsigned rolling_batch = 1;         ///< --rolling-batch: slots restarted at once on reload.
    double worker_timeout_s = 30;       ///< --worker-timeout: heartbeat silence before SIGABRT.
    double worker_start_timeout_s = 60; ///< --worker-start-timeout: from fork to READY (start hooks).
    double upgrade_timeout_s = 60;      ///< --upgrade-timeout: a new master (USR2) must be ready by then.
    task_pool_settings tasks;           ///< --task and --task-*: the task pool (off without tasks).
    app_settings apps;                  ///< --app and --app-*: supervised application processes.
    bool content = false;               ///< A content option (--demo, --root) was given.
    /// The application's registrations (set by app::run before parsing, kept across
    /// reloads): routes of its own mean no embedded default, and they must not collide
    /// with the built-in ones.
    const ringfork::detail::app_spec* app = nullptr;
    bool access_log_follow_symlinks = false; ///< --access-log-follow-symlinks.
    std::string user;                   ///< --user USER[:GROUP] as given (empty: the default).
    identity run_as;                    ///< Who workers, task runners and jobs run as (resolved --user).
};

enum class action { serve, help, version, check };

struct parse_outcome {
    action what = action::serve;
    std::string error; ///< Non-empty: one line saying which option is wrong and why.
};

/// Parses argv after the program name. "--flag value" and "--flag=value" are both
/// accepted. With no content option (--demo, --root) the embedded default is served:
/// the demo routes plus a welcome page at "/".
[[nodiscard]] parse_outcome parse_options(std::span<const char* const> args, options& out);

/// parse_options with the config file: the file named by --config is read first and the
/// command line applied over it (a --listen on the command line replaces the file's).
/// Used at start and again on every reload, with the same arguments.
[[nodiscard]] parse_outcome load_options(std::span<const char* const> args, options& out);

/// The --help text.
[[nodiscard]] std::string usage();

} // namespace ringfork::master
