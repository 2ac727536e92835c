// Worker process entry: what a freshly forked child does before its loop runs.
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <memory>
#include <string>

#include "ipc/worker_start.hpp"
#include "net/error.hpp"
#include "net/fd.hpp"
#include "net/log.hpp"
#include "ipc/app_spec.hpp"
#include "worker/app_runtime.hpp"
#include "worker/demo.hpp"
#include "worker/descriptor_budget.hpp"
#include "worker/loop.hpp"
#include "worker/proxy_routes.hpp"
#include "worker/router.hpp"
#include "worker/static_files.hpp"
#include "worker/task_calls.hpp"
#include "worker/task_routes.hpp"


namespace ringfork::ipc {

int run_worker(const worker_start& start)
{
    net::log::set_role(fmt::format("worker {}", start.slot));
    prctl(PR_SET_NAME, "rf-worker"); // what ps and top show; the master stays "ringfork"
    // No orphans: the worker stops when the master dies, even by SIGKILL, and checks for
    // the race where the master died before the prctl took effect.
    prctl(PR_SET_PDEATHSIG, SIGINT);
    if (getppid() != start.master_pid)
        return 1;
    std::signal(SIGPIPE, SIG_IGN);

    const worker_settings& s = *start.settings;
    const auto budget = worker::descriptor_budget::for_this_process(s.max_connections);
    if (!budget.fits && start.slot == 0)
        net::log::warn("{}", budget.warning());
    worker::router routes;
    worker::app_runtime app;
    app.limit_open_files(budget.cache);
    std::string refused;
    const auto route = [&](std::string error) {
        if (!error.empty() && refused.empty())
            refused = std::move(error);
    };
    if (start.app)
        route(app.build(*start.app, routes));
    // The binary's own routes, written on the same API as an app's.
    if (s.demo) {
        route(app.add(routes, worker::get_head, "/plaintext", worker::plaintext));
        route(app.add(routes, worker::get_head, "/json", worker::json));
    }
    if (s.welcome)
        route(app.add(routes, worker::get_head, "/", worker::welcome));
    worker::task_submit_handler submit(s.task_spool);
    worker::job_status_handler jobs(s.task_spool);
    worker::builtin_task_handler prime("prime", s.task_spool), fib("fib", s.task_spool);
    if (s.task_pool) {
        route(routes.add_prefix("/tasks/jobs/", worker::get_head | worker::bit(http::method::delete_), &jobs));
        route(routes.add_prefix("/tasks/", worker::bit(http::method::post), &submit));
        if (s.demo) {
            route(routes.add("/prime", worker::get_head, &prime));
            route(routes.add("/fib", worker::get_head, &fib));
        }
    }
    if (!s.root.empty())
        route(app.mount(routes, "/", s.root, {s.index, s.autoindex, s.serve_dotfiles}));
    // Reverse proxy (--proxy prefixes cannot collide with the routes above: the master
    // refuses that at start). The pool is made before the loop, so it outlives the loop's
    // connections, whose proxy sources hold its connections.
    worker::upstream_pool upstreams(s.proxy);
    worker::proxy_routes proxies;
    route(proxies.add(routes, upstreams, s.proxy));
    if (!refused.empty()) {
        net::log::error("{}", refused);
        return 70;
    }

    std::string error;
    worker::loop loop(start, routes, error);
    worker::task_calls task_calls(loop.ring(), loop.env());
    if (error.empty() && s.task_pool) {
        task_calls.attach(loop.add_service(task_calls));
        loop.env().tasks = &task_calls;
    }
    if (error.empty())
        error = app.start(loop);
    if (!error.empty()) {
        net::log::error("{}", error);
        return 70; // EX_SOFTWARE: the master logs the exit and backs off
    }
    if (start.slot == 0 && start.generation == 1)
        net::log::info("io_uring: {}", loop.features().describe());
    if (!s.proxy.upstreams.empty()) {
        upstreams.attach(loop.ring(), loop.env(), loop.add_service(upstreams));
        upstreams.set_reporter([&loop](ipc::message& m) { loop.send_to_master(m); });
    }
    bool deferred = false;
    if (start.app) {
        const ringfork::detail::app_spec& spec = *start.app;
        deferred = app.run_start_hooks(spec, start.slot, start.generation, [&loop] { loop.announce_ready(); });
        if (!spec.on_drain.empty())
            loop.on_drain([&spec] {
                for (const auto& hook : spec.on_drain)
                    hook();
            });
    }
    const int code = loop.run(deferred);
    app.stop();
    return code;
}

} // namespace ringfork::ipc
