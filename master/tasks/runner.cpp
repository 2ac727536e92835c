// A task runner process.
#include "master/tasks/runner.hpp"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>

#include <fmt/format.h>

#include "ipc/app_spec.hpp"
#include "ipc/task_channel.hpp"
#include "master/tasks/children.hpp"
#include "master/tasks/runner_job.hpp"
#include "net/clock.hpp"
#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::master {

namespace {

/// A job leaves this long for its orphans to be killed and reaped.
constexpr int orphan_budget_ms = 500;
/// Progress reaches the master at most this often (the latest line always does, at the end).
constexpr std::uint64_t progress_interval_ms = 100;

// Signal handlers only touch these (and make async-signal-safe calls).
volatile std::sig_atomic_t running_pgid = 0;
volatile std::sig_atomic_t stop_requested = 0;

/// SIGUSR2 (the master died) and SIGINT (fast stop): nothing of a job may outlive the runner.
void on_fatal_signal(int) noexcept
{
    if (running_pgid > 0)
        ::kill(-running_pgid, SIGKILL);
    kill_children_from_signal_handler();
    ::_exit(1);
}

/// SIGTERM: the master ends the running function job (timeout or cancel).
void on_stop_signal(int) noexcept { stop_requested = 1; }

bool install_signals(std::string& error)
{
    struct sigaction sa{};
    sigfillset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a blocking wait returns EINTR and sees the flag
    using handler = void (*)(int) noexcept;
    const std::pair<int, handler> table[] = {
        {SIGUSR2, on_fatal_signal}, {SIGINT, on_fatal_signal}, {SIGTERM, on_stop_signal}};
    sigset_t handled;
    sigemptyset(&handled);
    for (auto [sig, fn] : table) {
        sa.sa_handler = fn;
        if (::sigaction(sig, &sa, nullptr) != 0) {
            error = net::sys_error("sigaction", strsignal(sig), errno);
            return false;
        }
        sigaddset(&handled, sig);
    }
    // The master's own signals (HUP, QUIT, ...) are for the master: ignored here.
    for (int sig : {SIGPIPE, SIGHUP, SIGQUIT, SIGUSR1, SIGTTIN, SIGTTOU, SIGWINCH})
        ::signal(sig, SIG_IGN);
    sigaddset(&handled, SIGCHLD);
    if (::sigprocmask(SIG_UNBLOCK, &handled, nullptr) != 0) {
        error = net::sys_error("sigprocmask", "SIG_UNBLOCK", errno);
        return false;
    }
    return true;
}

/// Stderr as one log line: newlines and other control bytes escaped.
std::string escape_line(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        if (c == '\n')
            out += "\\n";
        else if (c == '\\')
            out += "\\\\";
        else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else
            out += c;
    }
    return out;
}

class runner {
public:
    explicit runner(const runner_start& s) : s_(s) {}

    /// Sends a message to the master, waiting while the channel is full (bounded).
    bool tell(ipc::runner_message& m)
    {
        m.pid = ::getpid();
        for (int attempt = 0; attempt < 100; ++attempt) {
            const int rc = ipc::send_runner_message(s_.channel_fd, m);
            if (rc == 0)
                return true;
            if (rc != -EAGAIN)
                return false;
            pollfd p{s_.channel_fd, POLLOUT, 0};
            (void)::poll(&p, 1, 100);
        }
        return false;
    }

    void serve(const ipc::runner_message& m, net::unique_fd sock)
    {
        const ipc::job_header& h = m.job;
        const std::string_view id = ipc::text_of(h.id);
        const task_entry* task = s_.registry->find(ipc::text_of(h.name));
        ipc::runner_message done;
        done.type = ipc::runner_msg::done;
        ipc::set_text(done.id, id);
        if (task == nullptr || !ipc::valid_job_id(id)) {
            done.failure = ipc::job_failure::start;
            ipc::set_text(done.text, "no such task in this runner");
            (void)tell(done);
            return;
        }
        job_link link(std::move(sock), h);
        std::string last_progress;
        std::uint64_t progress_sent_ms = 0;
        bool progress_pending = false;
        auto send_progress = [&] {
            ipc::runner_message p;
            p.type = ipc::runner_msg::progress;
            ipc::set_text(p.id, id);
            ipc::set_text(p.text, last_progress);
            (void)tell(p);
            progress_sent_ms = net::monotonic_ms();
            progress_pending = false;
        };
        job_hooks hooks;
        hooks.started = [&](pid_t pgid) {
            ipc::runner_message st;
            st.type = ipc::runner_msg::started;
            st.pgid = pgid;
            ipc::set_text(st.id, id);
            (void)tell(st);
        };
        hooks.progress = [&](std::string_view line) {
            last_progress.assign(line);
            progress_pending = true;
            if (net::monotonic_ms() >= progress_sent_ms + progress_interval_ms)
                send_progress();
        };
        hooks.idle = [&]() -> int {
            if (!progress_pending)
                return -1;
            const std::uint64_t now = net::monotonic_ms();
            if (now >= progress_sent_ms + progress_interval_ms) {
                send_progress();
                return -1;
            }
            return static_cast<int>(progress_sent_ms + progress_interval_ms - now);
        };
        hooks.running_pgid = &running_pgid;
        hooks.stop_requested = &stop_requested;
        const job_env env{*task, h, link, *s_.spool, *s_.settings, hooks};
        const job_report r = task->function ? run_function_job(env) : run_command_job(env);
        link.close();
        if (progress_pending)
            send_progress();

        if (!r.stderr_log.empty()) {
            const std::string how =
                r.signal != 0 ? fmt::format("signal {}", r.signal) : fmt::format("exit {}", r.exit_code);
            net::log::warn("task {} job {} {}: {}", task->name, id, how, escape_line(r.stderr_log));
        }
        // Whatever the job started goes with it, even what left its process group.
        kill_all_children(orphan_budget_ms);
        ++jobs_;
        done.exit_code = r.exit_code;
        done.signal = r.signal;
        done.elapsed_ms = static_cast<std::uint32_t>(r.elapsed_us / 1000);
        done.output_bytes = r.output_bytes;
        done.failure = r.failure;
        ipc::set_text(done.text, r.text);
        done.rss_kb = resident_kb();
        if (!tell(done))
            net::log::warn("{}", net::sys_error("send", "job done to the master", errno));
    }

    int run()
    {
        ipc::runner_message ready;
        ready.type = ipc::runner_msg::ready;
        ready.rss_kb = resident_kb();
        if (!tell(ready))
            return 1;
        for (;;) {
            ipc::runner_message m;
            net::unique_fd sock;
            const int rc = ipc::recv_runner_message(s_.channel_fd, m, sock, true);
            if (rc == 0)
                break; // the master closed the channel: stop
            if (rc == -EPROTO)
                continue;
            if (rc < 0) {
                net::log::error("{}", net::sys_error("recv", "runner channel", -rc));
                return 1;
            }
            if (m.type != ipc::runner_msg::run_job)
                continue;
            stop_requested = 0;
            serve(m, std::move(sock));
        }
        net::log::info("stopping after {} jobs", jobs_);
        return 0;
    }

private:
    const runner_start& s_;
    unsigned jobs_ = 0;
};

} // namespace

int run_task_runner(const runner_start& start)
{
    // A master dying before this prctl is caught by the getppid check; one dying after it
    // leaves SIGUSR2 pending (still blocked) until the handler below is installed.
    ::prctl(PR_SET_PDEATHSIG, SIGUSR2);
    if (::getppid() != start.master_pid)
        return 1;
    // Its own process group: a function job's group is the runner's, so the master can end
    // it without touching anything else; a terminal's Ctrl-C does not reach it either.
    (void)::setpgid(0, 0);
    // Orphans of a job become this runner's children, not init's, so it can kill them.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    net::log::set_role(fmt::format("task runner {}", start.index));
    ::prctl(PR_SET_NAME, "rf-task");
    std::string error;
    if (!install_signals(error)) {
        net::log::error("{}", error);
        return 1;
    }
    // The application's per-runner set-up (app::on_runner_start), before the first job.
    if (start.settings->app != nullptr) {
        try {
            for (const auto& hook : start.settings->app->on_runner_start)
                hook();
        } catch (const std::exception& e) {
            net::log::error("on_runner_start: {}", e.what());
            return 1;
        }
    }
    runner r(start);
    return r.run();
}

} // namespace ringfork::master
