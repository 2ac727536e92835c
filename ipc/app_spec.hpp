// What an application registered before run(): routes, file roots, task functions and
// hooks. The master builds it and its children inherit it across fork, so nothing is
// serialised. Owns the registrations' shape; leaves serving them to the worker, running
// tasks to the runners and hooks to whichever process they belong to.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "net/route_table.hpp"
#include "ringfork/app.hpp"
#include "ringfork/http.hpp"
#include "ringfork/tasks.hpp"

namespace ringfork::detail {

struct route_spec {
    http::method_mask methods = 0;
    std::string pattern;
    ringfork::handler fn;
};

struct root_spec {
    std::string dir;
    file_options options;
};

/// A directory served under a prefix (app::files, --root).
struct mount_spec {
    std::string prefix;  ///< Ends in '/'.
    std::size_t root = 0;
};

struct function_task_spec {
    std::string name;
    task_function fn;
    task_options options;
};

struct command_task_spec {
    std::string name;
    std::vector<std::string> argv;
    task_options options;
};

struct app_spec {
    std::vector<route_spec> routes;
    std::vector<root_spec> roots;
    std::vector<mount_spec> mounts;
    std::vector<function_task_spec> function_tasks;
    std::vector<command_task_spec> command_tasks;
    http::route_table check; ///< Every pattern so far, to refuse a bad or repeated one at once.

    // Hooks, in the process named.
    std::vector<std::function<void()>> on_starting, on_ready, on_reload, on_exit;   // master
    std::vector<std::function<void(const worker_exit&)>> on_worker_exit;           // master
    std::vector<std::function<void(worker_start&)>> on_worker_start;               // worker
    std::vector<std::function<void()>> on_drain;                                   // worker
    std::vector<std::function<void()>> on_runner_start;                            // runner
};

} // namespace ringfork::detail
