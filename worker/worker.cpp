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
#include "worker/demo.hpp"
#include "worker/loop.hpp"
#include "worker/router.hpp"
#include "worker/static_files.hpp"
#include "worker/task_routes.hpp"

#ifdef RINGFORK_TEST_ROUTES
namespace ringfork::worker {
namespace {
/// GET /__test/spin: never returns, so the loop stops turning (the watchdog's test case).
/// Compiled only into the test build.
class spin_handler final : public handler {
public:
    void handle(const request_view&, http::response_writer&, deferred&) override
    {
        volatile unsigned long spins = 0;
        for (;;)
            spins = spins + 1u;
    }
};
} // namespace
} // namespace ringfork::worker
#endif

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
    worker::router routes;
    std::string refused;
    const auto route = [&](std::string error) {
        if (!error.empty() && refused.empty())
            refused = std::move(error);
    };
    worker::plaintext_handler plaintext;
    worker::json_handler json;
    worker::welcome_handler welcome;
    if (s.demo) {
        route(routes.add("/plaintext", worker::get_head, &plaintext));
        route(routes.add("/json", worker::get_head, &json));
    }
    if (s.welcome)
        route(routes.add("/", worker::get_head, &welcome));
    worker::task_submit_handler submit;
    worker::job_status_handler jobs(s.task_spool);
    worker::builtin_task_handler prime("prime"), fib("fib");
    if (!s.task_pool.empty()) {
        route(routes.add_prefix("/tasks/jobs/", worker::get_head, &jobs));
        route(routes.add_prefix("/tasks/", worker::bit(http::method::post), &submit));
        if (s.demo) {
            route(routes.add("/prime", worker::get_head, &prime));
            route(routes.add("/fib", worker::get_head, &fib));
        }
    }
#ifdef RINGFORK_TEST_ROUTES
    worker::spin_handler spin;
    route(routes.add("/__test/spin", worker::get_head, &spin));
#endif
    net::unique_fd root;
    std::unique_ptr<worker::static_handler> files;
    if (!s.root.empty()) {
        root.reset(::open(s.root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!root) {
            net::log::error("{}", net::sys_error("open", s.root, errno));
            return 70;
        }
        files = std::make_unique<worker::static_handler>(
            root.get(), worker::static_options{s.index, s.serve_dotfiles, s.autoindex});
        route(routes.add_prefix("/", worker::get_head, files.get()));
    }

    if (!refused.empty()) {
        net::log::error("{}", refused);
        return 70;
    }
    std::string error;
    worker::loop loop(start, routes, error);
    if (!error.empty()) {
        net::log::error("{}", error);
        return 70; // EX_SOFTWARE: the master logs the exit and backs off
    }
    if (start.slot == 0 && start.generation == 1)
        net::log::info("io_uring: {}", loop.features().describe());
    return loop.run();
}

} // namespace ringfork::ipc
