// A command task inside a runner: fork, exec, and the bytes around it.
#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "master/supervise/spawn.hpp"
#include "master/tasks/runner_job.hpp"
#include "net/error.hpp"

extern char** environ;

namespace ringfork::master {

namespace {

using job_clock = std::chrono::steady_clock;

/// The body and the output travel through this much memory at most.
constexpr std::size_t window_size = 64 * 1024;
/// How long stdout and stderr are still read after the command exited (a writer that
/// escaped its group would otherwise keep them open).
constexpr int linger_ms = 100;
/// The progress descriptor's number in the job.
constexpr int progress_fd_number = 3;

/// Everything the child needs, prepared before fork so the child only makes system calls.
struct child_plan {
    std::vector<char*> argv;
    std::vector<std::string> env_text;
    std::vector<char*> envp;
    int dir_fd = -1;
    int fds[4] = {-1, -1, -1, -1}; ///< Become 0, 1, 2 and progress_fd_number.
    pid_t runner = 0;
    rlim_t cpu_seconds = 0;
    rlim_t address_space = 0;
    rlim_t open_files = 0;
    rlim_t file_size = 0;
};

/// Lowers soft and hard limit to `value` (never above the current hard limit); 0 = unchanged.
void lower_limit(int resource, rlim_t value) noexcept
{
    rlimit old{};
    if (value == 0 || ::getrlimit(resource, &old) != 0)
        return;
    const rlim_t v = std::min(value, old.rlim_max);
    const rlimit next{v, v};
    ::setrlimit(resource, &next);
}

[[noreturn]] void child_fail(const char* what, const char* object, int err) noexcept
{
    // fd 2 is the stderr pipe by now (or still the runner's stderr): either way it is kept.
    const char* text = std::strerror(err);
    for (const char* s : {what, " ", object, ": ", text, "\n"})
        if (::write(2, s, std::strlen(s)) < 0)
            break;
    ::_exit(127);
}

/// The job child: a new process group, dies with the runner, fds 0-3 only, limits, exec.
[[noreturn]] void run_child(const child_plan& p) noexcept
{
    if (!enter_own_group(p.runner))
        ::_exit(127);
    if (::fchdir(p.dir_fd) != 0)
        child_fail("chdir", "job directory", errno);
    // Copies above the targets first, so dup2 onto 0..3 never clobbers a source still needed.
    int copies[4];
    for (int i = 0; i < 4; ++i)
        if ((copies[i] = ::fcntl(p.fds[i], F_DUPFD, 4)) < 0)
            child_fail("dup", "stdio", errno);
    for (int i = 0; i < 4; ++i)
        if (::dup2(copies[i], i) < 0)
            child_fail("dup2", "stdio", errno);
    ::close_range(4, ~0U, 0);
    lower_limit(RLIMIT_CPU, p.cpu_seconds);
    lower_limit(RLIMIT_AS, p.address_space);
    lower_limit(RLIMIT_NOFILE, p.open_files);
    lower_limit(RLIMIT_FSIZE, p.file_size);
    errno = 0;
    if (const int prio = ::getpriority(PRIO_PROCESS, 0); errno == 0)
        (void)::setpriority(PRIO_PROCESS, 0, std::min(prio + job_nice, 19));
    ::execvpe(p.argv[0], p.argv.data(), p.envp.data());
    child_fail("exec", p.argv[0], errno);
}

int ms_until(job_clock::time_point t)
{
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - job_clock::now()).count();
    return static_cast<int>(std::clamp<long long>(ms, 0, INT_MAX));
}

/// The runner's side of a running command.
struct pump {
    pump(const job_env& e, output_sink& o, stderr_keeper& k) : env(e), out(o), err(k) {}

    const job_env& env;
    output_sink& out;
    stderr_keeper& err;
    pid_t child = 0;
    int pidfd = -1;
    net::unique_fd stdin_w, stdout_r, stderr_r, progress_r;
    std::vector<char> window = std::vector<char>(window_size); ///< Body bytes window[head, tail).
    std::size_t head = 0, tail = 0;
    std::vector<char> chunk = std::vector<char>(window_size);
    line_splitter lines;
    ipc::job_failure failure = ipc::job_failure::none;
    std::string text;
    int status = 0;
    job_clock::time_point exited_at{};

    void run()
    {
        bool exited = false;
        job_clock::time_point linger_until{};
        for (;;) {
            if (!env.link.body_pending() && head == tail)
                stdin_w.reset(); // EOF for the job
            if (exited && ((!stdout_r && !stderr_r && !progress_r) || job_clock::now() >= linger_until))
                return;
            pollfd fds[6] = {{exited ? -1 : pidfd, POLLIN, 0},
                             {stdout_r.get(), POLLIN, 0},
                             {stderr_r.get(), POLLIN, 0},
                             {progress_r.get(), POLLIN, 0},
                             {env.link.body_pending() && tail < window.size() ? env.link.fd() : -1, POLLIN, 0},
                             {stdin_w && head < tail ? stdin_w.get() : -1, POLLOUT, 0}};
            const int due = env.hooks.idle ? env.hooks.idle() : -1;
            const int wait = exited ? ms_until(linger_until) : -1;
            const int n = ::poll(fds, 6, due < 0 ? wait : wait < 0 ? due : std::min(due, wait));
            if (n < 0 && errno != EINTR) {
                text = net::sys_error("poll", "job", errno);
                failure = ipc::job_failure::spool;
                ::kill(-child, SIGKILL);
            }
            if (n <= 0)
                continue;
            if (fds[0].revents != 0) {
                while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
                }
                exited = true;
                exited_at = job_clock::now();
                linger_until = exited_at + std::chrono::milliseconds(linger_ms);
            }
            if (fds[1].revents != 0)
                read_stdout();
            if (fds[2].revents != 0)
                read_into(stderr_r, [&](std::span<const char> b) { err.add(b); });
            if (fds[3].revents != 0)
                read_into(progress_r, [&](std::span<const char> b) {
                    lines.feed(b, [&](std::string_view line) {
                        env.hooks.progress(line);
                        env.link.progress(line);
                    });
                });
            if (fds[4].revents != 0)
                read_body();
            if (fds[5].revents != 0)
                write_stdin();
        }
    }

    /// Reads what a pipe has now; closes it at EOF or on an error.
    template <typename F> void read_into(net::unique_fd& fd, F&& take)
    {
        const ssize_t n = ::read(fd.get(), chunk.data(), chunk.size());
        if (n > 0)
            take(std::span<const char>(chunk.data(), static_cast<std::size_t>(n)));
        else if (n == 0 || (errno != EAGAIN && errno != EINTR))
            fd.reset();
    }

    void read_stdout()
    {
        read_into(stdout_r, [&](std::span<const char> b) {
            if (out.closed())
                return; // over the cap or out of space: drained and dropped while the job dies
            const std::uint64_t offset = out.bytes();
            const bool ok = out.write(b);
            env.link.output(offset, b.first(static_cast<std::size_t>(out.bytes() - offset)));
            if (!ok) {
                failure = out.failure();
                text = out.reason();
                ::kill(-child, SIGKILL);
            }
        });
    }

    void read_body()
    {
        const long n = env.link.read_body({window.data() + tail, window.size() - tail});
        if (n > 0) {
            tail += static_cast<std::size_t>(n);
            if (!stdin_w)
                head = tail = 0; // the job stopped reading: drop the rest, keep the submitter moving
        } else if (n == -EPROTO) {
            failure = ipc::job_failure::body;
            text = "the submitter sent a malformed body";
            ::kill(-child, SIGKILL);
        }
        // -EPIPE: the submitter left; the master decides whether that cancels the job.
    }

    void write_stdin()
    {
        const ssize_t n = ::write(stdin_w.get(), window.data() + head, tail - head);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            stdin_w.reset(); // EPIPE: the job closed its stdin; the rest of the body is dropped
            head = tail = 0;
            return;
        }
        head += static_cast<std::size_t>(n);
        if (head == tail)
            head = tail = 0;
    }
};

struct pipe_pair {
    net::unique_fd r, w;
};

bool make_pipe(pipe_pair& p, bool reader_nonblocking, bool writer_nonblocking)
{
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        return false;
    p.r.reset(fds[0]);
    p.w.reset(fds[1]);
    return (!reader_nonblocking || ::fcntl(fds[0], F_SETFL, O_NONBLOCK) == 0) &&
           (!writer_nonblocking || ::fcntl(fds[1], F_SETFL, O_NONBLOCK) == 0);
}

} // namespace

job_report run_command_job(const job_env& env)
{
    job_report report;
    const ipc::job_header& h = env.header;
    const std::string_view id = ipc::text_of(h.id);
    auto fail = [&](ipc::job_failure kind, std::string why) {
        report.failure = kind;
        report.text = std::move(why);
        return report;
    };
    int err = 0;
    auto dir = env.spool.make_job_dir(id, err);
    if (!dir)
        return fail(ipc::job_failure::spool, net::sys_error("mkdir", "job directory", err));
    struct dir_remover {
        const ipc::spool& spool;
        const std::string& name;
        ~dir_remover() { spool.remove_job_dir(name); }
    } remove_dir{env.spool, dir->name};

    net::unique_fd out_file = env.spool.create(id, ipc::spool::file::out, err);
    if (!out_file)
        return fail(err == ENOSPC ? ipc::job_failure::no_space : ipc::job_failure::spool,
                    net::sys_error("create", ipc::spool::name(id, ipc::spool::file::out), err));
    net::unique_fd err_file = env.spool.create(id, ipc::spool::file::err, err);
    output_sink out(std::move(out_file), env.settings.max_output);
    stderr_keeper keeper(std::move(err_file), env.settings.stderr_log_max);

    pipe_pair in, stdout_p, stderr_p, progress_p;
    net::unique_fd body_file;
    const bool async = (h.flags & ipc::job_async) != 0;
    if (async && h.body_length > 0) {
        body_file = env.spool.open_read(id, ipc::spool::file::in, err);
        if (!body_file)
            return fail(ipc::job_failure::body, net::sys_error("open", ipc::spool::name(id, ipc::spool::file::in), err));
    }
    // Only the runner's ends are non-blocking; the job sees ordinary blocking pipes.
    if (!make_pipe(in, false, true) || !make_pipe(stdout_p, true, false) || !make_pipe(stderr_p, true, false) ||
        !make_pipe(progress_p, true, false))
        return fail(ipc::job_failure::start, net::sys_error("pipe2", "job", errno));

    child_plan plan;
    for (const std::string& a : env.task.argv)
        plan.argv.push_back(const_cast<char*>(a.c_str()));
    plan.argv.push_back(nullptr);
    for (char** e = environ; *e != nullptr; ++e) {
        const std::string_view v(*e);
        if (!v.starts_with("TMPDIR=") && !v.starts_with("RINGFORK_"))
            plan.env_text.emplace_back(v);
    }
    plan.env_text.push_back("TMPDIR=" + dir->path);
    plan.env_text.push_back(fmt::format("RINGFORK_TASK_ARGS={}", ipc::text_of(h.args)));
    plan.env_text.push_back(fmt::format("RINGFORK_JOB_ID={}", id));
    plan.env_text.push_back(fmt::format("RINGFORK_PROGRESS_FD={}", progress_fd_number));
    for (std::string& e : plan.env_text)
        plan.envp.push_back(e.data());
    plan.envp.push_back(nullptr);
    plan.dir_fd = dir->fd.get();
    plan.fds[0] = body_file ? body_file.get() : in.r.get();
    plan.fds[1] = stdout_p.w.get();
    plan.fds[2] = stderr_p.w.get();
    plan.fds[3] = progress_p.w.get();
    plan.runner = ::getpid();
    const auto& s = env.settings;
    plan.cpu_seconds = s.cpu_seconds != 0 ? s.cpu_seconds : (job_limits(env.task, env.header).timeout_ms + 999) / 1000 + 1;
    plan.address_space = s.address_space;
    plan.open_files = s.open_files;
    plan.file_size = s.max_output;

    const auto start = job_clock::now();
    const pid_t child = ::fork();
    if (child < 0)
        return fail(ipc::job_failure::start, net::sys_error("fork", env.task.name, errno));
    if (child == 0)
        run_child(plan);
    // Both sides set the group so it exists before either goes on; EACCES: the child
    // already exec'd (having set it itself).
    (void)::setpgid(child, child);
    *env.hooks.running_pgid = child;
    env.hooks.started(child);
    env.link.started(::getpid(), child);
    in.r.reset();
    stdout_p.w.reset();
    stderr_p.w.reset();
    progress_p.w.reset();
    body_file.reset();

    pump p(env, out, keeper);
    p.child = child;
    p.stdin_w = std::move(in.w);
    p.stdout_r = std::move(stdout_p.r);
    p.stderr_r = std::move(stderr_p.r);
    p.progress_r = std::move(progress_p.r);
    const net::unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
    if (!pidfd) {
        // Cannot watch it: it must not run unwatched.
        ::kill(-child, SIGKILL);
        while (::waitpid(child, &p.status, 0) < 0 && errno == EINTR) {
        }
        *env.hooks.running_pgid = 0;
        return fail(ipc::job_failure::start, net::sys_error("pidfd_open", std::to_string(child), errno));
    }
    p.pidfd = pidfd.get();
    p.run();
    // Whatever is left of the group goes now; the runner then kills every other child.
    ::kill(-child, SIGKILL);
    *env.hooks.running_pgid = 0;
    keeper.finish();

    report.elapsed_us = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(p.exited_at - start).count());
    report.output_bytes = out.bytes();
    report.failure = p.failure;
    report.text = std::move(p.text);
    report.stderr_log = keeper.log_text();
    if (WIFEXITED(p.status))
        report.exit_code = WEXITSTATUS(p.status);
    else if (WIFSIGNALED(p.status))
        report.signal = WTERMSIG(p.status);
    return report;
}

} // namespace ringfork::master
