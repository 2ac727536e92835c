// An application: routes, task functions and lifecycle hooks registered before run(),
// which takes ringfork's command line and becomes the master. Workers and task runners
// are forked from it and already hold every route and function; signals, rolling
// restarts, binary upgrades, stats, the dashboard and `ringfork ctl` come with it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ringfork/http.hpp"
#include "ringfork/tasks.hpp"

namespace ringfork {

namespace detail {
struct app_spec;
} // namespace detail

/// Why a worker process ended, as its master saw it.
struct worker_exit {
    unsigned slot = 0;
    int pid = 0;
    int exit_code = -1;    ///< When it exited.
    int signal = 0;        ///< When a signal ended it (a watchdog SIGKILL, a crash).
    bool expected = false; ///< It was told to go (drain, reload, scale-down, stop).
    std::string reason;    ///< One line, as the log shows it.
};

/// What a worker's start hook gets: which worker this is, and a way to hold READY back
/// until asynchronous set-up (connections opened through posted completions) is done.
class worker_start {
public:
    virtual ~worker_start() = default;
    [[nodiscard]] virtual unsigned slot() const noexcept = 0;
    [[nodiscard]] virtual std::uint32_t generation() const noexcept = 0;
    /// Holds READY until the returned function is called (on the worker's loop). A worker
    /// not ready within --worker-start-timeout is stopped and logged.
    [[nodiscard]] virtual std::function<void()> defer_ready() = 0;
};

class app {
public:
    app();
    ~app();
    app(const app&) = delete;
    app& operator=(const app&) = delete;

    /// Routes. A pattern is '/'-separated segments: literal, `{name}` (one segment) or a
    /// last `{*name}` (the rest). Literal beats parameter beats catch-all. A path no route
    /// matches gets 404; a method no handler takes, 405 with Allow; HEAD is answered by GET.
    /// A bad pattern or a second handler for the same method and pattern throws
    /// std::invalid_argument.
    app& get(std::string_view pattern, handler h);
    app& post(std::string_view pattern, handler h);
    app& put(std::string_view pattern, handler h);
    app& patch(std::string_view pattern, handler h);
    app& del(std::string_view pattern, handler h);
    /// Any method by name ("GET", "OPTIONS", ...).
    app& route(std::string_view method, std::string_view pattern, handler h);

    /// A directory handlers can answer from (responder::send_file).
    [[nodiscard]] file_root files_root(std::string dir, file_options options = {});
    /// Serves the files of `dir` under `prefix` (ending in '/'): GET and HEAD, ranges,
    /// conditionals, precompressed siblings, directory redirects.
    app& files(std::string_view prefix, std::string dir, file_options options = {});

    /// A task function, run in the task pool; reachable with call_task and through the
    /// routes POST /tasks/NAME (sync, ?async=1, ?stream=1). A name is 1 to 64 of
    /// [A-Za-z0-9_-]; a bad or repeated name throws std::invalid_argument.
    app& task(std::string name, task_function fn, task_options options = {});
    /// A command task (no shell): argv[0] is looked up on PATH; the request body is its
    /// standard input and its standard output the result.
    app& command_task(std::string name, std::vector<std::string> argv, task_options options = {});

    /// Lifecycle hooks. In the master: on_starting (before binding), on_ready (every worker
    /// READY, after start and after each reload), on_worker_exit (every worker exit,
    /// including watchdog kills and crashes), on_reload (a reload begins), on_exit (the
    /// master is about to exit). In each worker: on_worker_start (after fork, before
    /// READY), on_drain (the worker stops accepting). In each task runner: on_runner_start.
    app& on_starting(std::function<void()> fn);
    app& on_ready(std::function<void()> fn);
    app& on_worker_exit(std::function<void(const worker_exit&)> fn);
    app& on_reload(std::function<void()> fn);
    app& on_exit(std::function<void()> fn);
    app& on_worker_start(std::function<void(worker_start&)> fn);
    app& on_drain(std::function<void()> fn);
    app& on_runner_start(std::function<void()> fn);

    /// Parses ringfork's flags and subcommands (--listen, --workers, --config, --admin,
    /// --control, --task-timeout, -t, ctl, top, ...) and runs: returns the exit code.
    int run(int argc, char** argv);

    /// The registrations, for ringfork's own code.
    [[nodiscard]] detail::app_spec& spec() noexcept { return *spec_; }

private:
    std::unique_ptr<detail::app_spec> spec_;
};

} // namespace ringfork
