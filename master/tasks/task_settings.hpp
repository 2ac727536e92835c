// The task pool's configuration: the --task table, per-task limits with the pool-wide
// flags as defaults, recycling, the queue and the spool. Owns what the settings mean and
// their defaults; leaves parsing numbers to master/config and acting on them to the broker.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/spool.hpp"

namespace ringfork::detail {
struct app_spec;
} // namespace ringfork::detail

namespace ringfork::master {

/// One configured task: a command, or a function compiled into the binary.
struct task_spec {
    std::string name;
    std::vector<std::string> argv; ///< A command (argv[0] looked up in PATH), or empty for
    std::string function;          ///< a registered function ("prime", "fib"),
    bool app_function = false;     ///< or the application's task function of this name.
};

/// What one task may do; the pool-wide flags give the defaults.
struct task_limits {
    unsigned timeout_ms = 30000;  ///< From the job's start; then SIGTERM to its process group.
    unsigned grace_ms = 1000;     ///< Between that SIGTERM and SIGKILL.
    unsigned concurrency = 0;     ///< Jobs of this task running at once; 0: no limit of its own.
};

/// A per-task setting given as NAME=VALUE; unset fields fall back to the defaults.
struct task_override {
    std::string name;
    std::optional<unsigned> timeout_ms;
    std::optional<unsigned> grace_ms;
    std::optional<unsigned> concurrency;
};

struct task_pool_settings {
    std::vector<task_spec> tasks;
    task_limits defaults;                     ///< --task-timeout, --task-grace, --task-concurrency.
    std::vector<task_override> overrides;     ///< The NAME=VALUE forms of the same flags.
    unsigned runners = 2;                     ///< --task-workers
    unsigned queue = 64;                      ///< --task-queue: jobs waiting for a runner.
    unsigned queue_timeout_ms = 30000;        ///< --task-queue-timeout: a synchronous job waits this long at most.
    std::string spool;                        ///< --task-spool
    unsigned ttl_s = 3600;                    ///< --task-ttl: ended jobs' files kept this long.
    std::uint64_t spool_max = 1ull << 30;     ///< --task-spool-max: ended jobs' files beyond it go, oldest first.
    std::uint64_t max_output = 64ull << 20;   ///< --task-max-output: bytes of output per job.
    unsigned max_jobs = 0;                    ///< --task-max-jobs: a runner is replaced after about this many (0: never).
    std::uint64_t max_rss_kb = 0;             ///< --task-max-rss: ... or once its memory is above this (0: never).
    std::uint64_t cpu_seconds = 0;            ///< RLIMIT_CPU per command job (0: its timeout + 1 s).
    std::uint64_t address_space = 1ull << 32; ///< RLIMIT_AS per command job (0: unlimited).
    std::uint64_t open_files = 256;           ///< RLIMIT_NOFILE per command job (0: inherited).
    std::size_t stderr_log_max = 4096;        ///< Bytes of a job's stderr copied to the error log.
    ipc::spool_owner owner;                   ///< Who runners and jobs run as; owns the spool.
    const detail::app_spec* app = nullptr;    ///< The application's tasks and runner hooks (null: none).
};

/// Parses "NAME=COMMAND": COMMAND is split on blanks with '...' and "..." quoting (no
/// shell); "builtin:NAME" names a registered function. NAME is valid_task_name.
[[nodiscard]] std::optional<task_spec> parse_task_flag(std::string_view text, std::string& error);
/// Splits on blanks; '...' and "..." quote literally (no escapes) and join adjacent text.
[[nodiscard]] std::optional<std::vector<std::string>> split_command(std::string_view text, std::string& error);
/// "slow=120" -> {"slow", "120"}; "120" -> {"", "120"}: the two forms of a per-task flag.
[[nodiscard]] std::pair<std::string_view, std::string_view> split_task_value(std::string_view text) noexcept;
/// The override record for `name` (made on first use).
[[nodiscard]] task_override& override_for(task_pool_settings& s, std::string_view name);
/// Sets limit `which` ("timeout" or "grace" in ms, "concurrency") for task `name`, or for
/// every task when `name` is empty. Returns "" or why `name` is refused.
std::string set_task_limit(task_pool_settings& s, std::string_view which, std::string_view name, unsigned value);
/// The limits task `name` runs with.
[[nodiscard]] task_limits limits_for(const task_pool_settings& s, std::string_view name) noexcept;
/// Adds the application's tasks (app::task, app::command_task) that no --task replaces, and
/// their options as per-task settings where no flag set one. Keeps `app` for the runners.
void add_app_tasks(task_pool_settings& s, const detail::app_spec& app);
/// After every flag: per-task settings must name a configured task. False with `error`.
[[nodiscard]] bool check_task_settings(const task_pool_settings& s, std::string& error);
/// The spool when none is given: $XDG_RUNTIME_DIR/ringfork-tasks; as root /run/ringfork-tasks;
/// else /tmp/ringfork-tasks-UID (refused at start if someone else made it first).
[[nodiscard]] std::string default_spool_dir(uid_t euid, uid_t owner, const char* runtime_dir);
/// How long a worker may wait for a synchronous job before its own deadline: the longest
/// queue wait, run, grace and result delivery the master allows, plus a margin.
[[nodiscard]] unsigned worker_task_wait_ms(const task_pool_settings& s) noexcept;

} // namespace ringfork::master
