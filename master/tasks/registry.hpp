// The task table: every task name maps to a command or to a function compiled into the
// binary, with its limits. Owns the function registry (the builtins prime and fib, and what
// else registers) and what a function sees of its job; leaves running jobs to the runner.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/task_protocol.hpp"
#include "master/tasks/task_settings.hpp"

namespace ringfork::master {

/// What a function task sees of its job: no HTTP, so a public API can wrap it as it is.
class task_context {
public:
    virtual ~task_context() = default;
    /// The job's id.
    [[nodiscard]] virtual std::string_view id() const noexcept = 0;
    /// The job's arguments: the request's query string.
    [[nodiscard]] virtual std::string_view args() const noexcept = 0;
    /// Appends to the job's output (and sends it to a streaming submitter, waiting while it
    /// is slow). False once the output is closed: over the cap, out of space, or cancelled.
    virtual bool emit(std::span<const char> bytes) = 0;
    /// The job's latest progress line: kept in its state, sent to a submitter that asked.
    virtual void progress(std::string_view line) = 0;
    /// Appends to the job's standard error (its last MiB is kept, its start logged).
    virtual void error(std::string_view text) = 0;
    /// True once the job should stop: cancelled, past its deadline, or its output closed.
    [[nodiscard]] virtual bool cancelled() const noexcept = 0;
    /// When the job's time is up (after which it is killed with its runner).
    [[nodiscard]] virtual std::chrono::steady_clock::time_point deadline() const noexcept = 0;
};

/// A built-in function task: runs inside a runner process and returns its exit code (0: done).
using task_function = int (*)(task_context& ctx, std::span<const char> input);
/// What a runner calls for a function job: a built-in, or the application's (ringfork::task_function).
using task_runnable = std::function<int(task_context& ctx, std::span<const char> input)>;

/// Registers `fn` as `name` (named on the command line as builtin:NAME). False if the name
/// is taken or not a valid task name. Call before options are parsed.
bool register_task_function(std::string_view name, task_function fn);
/// The function registered as `name`, or null.
[[nodiscard]] task_function find_task_function(std::string_view name) noexcept;
/// "builtin:prime, builtin:fib, ...", for messages.
[[nodiscard]] std::string task_function_names();

/// One task as jobs run it.
struct task_entry {
    std::string name;
    std::vector<std::string> argv;    ///< A command, or
    task_runnable function;           ///< a function run inside the runner.
    task_limits limits;
};

/// The limits one job runs with: its submitter's timeout and grace where it set them (a
/// library call's options), else its task's.
[[nodiscard]] inline task_limits job_limits(const task_entry& t, const ipc::job_header& h) noexcept
{
    task_limits l = t.limits;
    if (h.timeout_ms != 0)
        l.timeout_ms = h.timeout_ms;
    if (h.grace_ms != 0)
        l.grace_ms = h.grace_ms;
    return l;
}

/// The resolved task table, built once from the settings; broker and runners share it.
class task_registry {
public:
    /// The --task table and the application's tasks (s.app).
    explicit task_registry(const task_pool_settings& s);
    /// The task called `name`, or null.
    [[nodiscard]] const task_entry* find(std::string_view name) const noexcept;
    /// Its index in entries(), or -1.
    [[nodiscard]] int index_of(std::string_view name) const noexcept;
    [[nodiscard]] const std::vector<task_entry>& entries() const noexcept { return entries_; }

private:
    std::vector<task_entry> entries_;
};

} // namespace ringfork::master
