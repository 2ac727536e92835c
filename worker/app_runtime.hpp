// The library's state in one worker: the app's routes as handlers, its file roots opened
// here, the queue other threads post to, and the worker-side hooks. Owns those objects;
// leaves routing to the router and answering to the exchanges.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/app_spec.hpp"
#include "net/fd.hpp"
#include "ringfork/http.hpp"
#include "worker/app_route.hpp"
#include "worker/app_tasks.hpp"
#include "worker/post_queue.hpp"
#include "worker/router.hpp"
#include "worker/static_files.hpp"

namespace ringfork::worker {

class loop;

class app_runtime {
public:
    /// How many descriptors each file root's cache may keep (descriptor_budget); call before
    /// build() and mount().
    void limit_open_files(std::size_t n) noexcept { open_files_ = n; }
    /// Opens `spec`'s file roots and adds its routes and mounts to `routes`; "" or why not.
    [[nodiscard]] std::string build(const detail::app_spec& spec, router& routes);
    /// Serves the files of `dir` under `prefix` (ending in '/'); "" or why not.
    [[nodiscard]] std::string mount(router& routes, std::string_view prefix, const std::string& dir,
                                    const file_options& options);
    /// Adds a library handler as a route (the binary's own routes use this too).
    [[nodiscard]] std::string add(router& routes, http::method_mask methods, std::string_view pattern,
                                  ringfork::handler fn);

    /// Starts the post queue on `l`'s ring and makes it this thread's current_loop(), with
    /// the task calls of `l` (env().tasks, when the master runs a pool) behind call_task.
    [[nodiscard]] std::string start(loop& l);
    /// Runs the worker start hooks; true when READY must wait for a deferred completion.
    [[nodiscard]] bool run_start_hooks(const detail::app_spec& spec, unsigned slot, std::uint32_t generation,
                                       std::function<void()> ready);
    /// The loop is stopping: later posts are refused.
    void stop() noexcept;

    /// The static handler of file root `root`, or null.
    [[nodiscard]] static_handler* root(const file_root& root) noexcept;
    /// Answers with `relative` beneath `files`' root, as if it had been requested there.
    void serve_file(static_handler& files, const request_view& req, std::string_view relative,
                    http::response_writer& w, deferred& later);

private:
    std::vector<net::unique_fd> root_fds_;
    std::vector<std::unique_ptr<static_handler>> roots_;
    std::size_t open_files_ = descriptor_budget::max_cache;
    std::vector<std::string> root_prefixes_;
    std::vector<std::unique_ptr<handler>> handlers_;
    std::unique_ptr<post_service> posts_;
    std::unique_ptr<app_tasks> tasks_;
};

} // namespace ringfork::worker
