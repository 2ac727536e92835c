// A function task inside a runner: called in this process, warm, with the whole body.
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <exception>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "master/tasks/runner_job.hpp"
#include "net/error.hpp"

namespace ringfork::master {

namespace {

using job_clock = std::chrono::steady_clock;

/// The task_context a function sees.
class runner_context final : public task_context {
public:
    runner_context(const job_env& env, output_sink& out, stderr_keeper& err, job_clock::time_point deadline)
        : env_(env), out_(out), err_(err), deadline_(deadline)
    {
    }

    std::string_view id() const noexcept override { return ipc::text_of(env_.header.id); }
    std::string_view args() const noexcept override { return ipc::text_of(env_.header.args); }

    bool emit(std::span<const char> bytes) override
    {
        if (out_.closed())
            return false;
        const std::uint64_t offset = out_.bytes();
        const bool ok = out_.write(bytes);
        env_.link.output(offset, bytes.first(static_cast<std::size_t>(out_.bytes() - offset)));
        return ok && !stopping();
    }

    void progress(std::string_view line) override
    {
        line = line.substr(0, line.find('\n'));
        line = line.substr(0, ipc::job_text_max);
        env_.hooks.progress(line);
        env_.link.progress(line);
    }

    void error(std::string_view text) override { err_.add({text.data(), text.size()}); }

    bool cancelled() const noexcept override { return stopping() || out_.closed() || job_clock::now() >= deadline_; }

    job_clock::time_point deadline() const noexcept override { return deadline_; }

private:
    bool stopping() const noexcept { return *env_.hooks.stop_requested != 0; }

    const job_env& env_;
    output_sink& out_;
    stderr_keeper& err_;
    job_clock::time_point deadline_;
};

/// The whole body: from <id>.in for an async job, from the job socket otherwise. False when
/// it cannot be had (`why` says so).
bool read_input(const job_env& env, std::vector<char>& input, std::string& why)
{
    const std::string_view id = ipc::text_of(env.header.id);
    if ((env.header.flags & ipc::job_async) != 0) {
        if (env.header.body_length == 0)
            return true;
        int err = 0;
        const net::unique_fd fd = env.spool.open_read(id, ipc::spool::file::in, err);
        struct stat st{};
        if (!fd || ::fstat(fd.get(), &st) != 0) {
            why = net::sys_error("open", ipc::spool::name(id, ipc::spool::file::in), fd ? errno : err);
            return false;
        }
        input.resize(static_cast<std::size_t>(st.st_size));
        std::size_t got = 0;
        while (got < input.size()) {
            const ssize_t n = ::pread(fd.get(), input.data() + got, input.size() - got, static_cast<off_t>(got));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            got += static_cast<std::size_t>(n);
        }
        input.resize(got);
        return true;
    }
    input.reserve(env.header.body_length);
    char buf[16384];
    while (env.link.body_pending()) {
        const long n = env.link.read_body(buf);
        if (n > 0) {
            input.insert(input.end(), buf, buf + n);
            continue;
        }
        if (n == 0)
            break;
        if (n != -EAGAIN) {
            why = n == -EPROTO ? "the submitter sent a malformed body" : "the submitter left before its body came";
            return false;
        }
        if (*env.hooks.stop_requested != 0) {
            why = "stopped while waiting for the body";
            return false;
        }
        pollfd p{env.link.fd(), POLLIN, 0};
        (void)::poll(&p, 1, 100); // the master's SIGTERM interrupts it too
    }
    return true;
}

} // namespace

job_report run_function_job(const job_env& env)
{
    job_report report;
    const std::string_view id = ipc::text_of(env.header.id);
    const auto start = job_clock::now();
    int err = 0;
    net::unique_fd out_file = env.spool.create(id, ipc::spool::file::out, err);
    if (!out_file) {
        report.failure = err == ENOSPC ? ipc::job_failure::no_space : ipc::job_failure::spool;
        report.text = net::sys_error("create", ipc::spool::name(id, ipc::spool::file::out), err);
        return report;
    }
    output_sink out(std::move(out_file), env.settings.max_output);
    stderr_keeper keeper(env.spool.create(id, ipc::spool::file::err, err), env.settings.stderr_log_max);
    // A function job is the runner's own process group: ending it ends the runner.
    env.hooks.started(::getpgrp());
    env.link.started(::getpid(), ::getpgrp());

    std::vector<char> input;
    if (!read_input(env, input, report.text)) {
        report.failure = ipc::job_failure::body;
        return report;
    }
    runner_context ctx(env, out, keeper, start + std::chrono::milliseconds(job_limits(env.task, env.header).timeout_ms));
    // Its own thread, so only the computation runs at a low priority: the runner's thread
    // keeps its own, and an unprivileged process could never raise it back.
    std::thread job([&] {
        errno = 0;
        const int tid = static_cast<int>(::gettid());
        if (const int prio = ::getpriority(PRIO_PROCESS, static_cast<id_t>(tid)); errno == 0)
            (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), std::min(prio + job_nice, 19));
        try {
            report.exit_code = env.task.function(ctx, input);
        } catch (const std::exception& e) {
            report.failure = ipc::job_failure::function;
            report.text = fmt::format("the function threw: {}", e.what());
        } catch (...) {
            report.failure = ipc::job_failure::function;
            report.text = "the function threw";
        }
    });
    job.join();
    keeper.finish();
    if (out.closed() && report.failure == ipc::job_failure::none) {
        report.failure = out.failure();
        report.text = out.reason();
    }
    report.elapsed_us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(job_clock::now() - start).count());
    report.output_bytes = out.bytes();
    report.stderr_log = keeper.log_text();
    return report;
}

} // namespace ringfork::master
