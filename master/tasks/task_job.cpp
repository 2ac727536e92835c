// One job of the task pool.
#include "master/tasks/task_job.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <vector>

#include "master/tasks/builtin_tasks.hpp"
#include "net/error.hpp"
#include "net/fd.hpp"
#include "net/log.hpp"

namespace ringfork::master {

namespace {

using job_clock = std::chrono::steady_clock;

/// The body travels through this much memory at most, whatever its length.
constexpr std::size_t body_window = 64 * 1024;
/// How long a job gets between SIGTERM and SIGKILL after its deadline.
constexpr int term_grace_ms = 1000;
/// How long stderr is still read after the group was killed (a writer that escaped the group
/// would otherwise keep the pipe open).
constexpr int stderr_linger_ms = 100;
/// How long the group's orphans get to die of their SIGKILL before the runner moves on.
constexpr int orphan_reap_ms = 200;

int ms_until(job_clock::time_point t)
{
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(t - job_clock::now()).count();
    return static_cast<int>(std::clamp<long long>(ms, 0, INT_MAX));
}

/// Everything the child needs, prepared before fork so the child only makes system calls.
struct child_plan {
    const task_spec* spec = nullptr;
    std::vector<char*> argv;
    std::string tmpdir;
    std::string args;
    std::string id;
    int stdin_fd = -1;
    int out_fd = -1;
    int stderr_fd = -1;
    pid_t runner = 0;
    rlim_t cpu_seconds = 0;
    rlim_t address_space = 0;
    rlim_t open_files = 0;
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
    // fd 2 is the stderr pipe by now (or still the runner's stderr): either way it is logged.
    const char* text = std::strerror(err);
    for (const char* s : {what, " ", object, ": ", text, "\n"})
        if (::write(2, s, std::strlen(s)) < 0)
            break;
    ::_exit(127);
}

/// The job child: new process group, dies with the runner, fds 0/1/2 only, limits, then the
/// builtin or exec.
[[noreturn]] void run_child(const child_plan& p) noexcept
{
    // The runner's handlers and blocked signals are not the job's business.
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP)
            ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != p.runner)
        ::_exit(127);
    // Copies above 2 first, so dup2 onto 0..2 can never clobber a source still needed.
    const int in = ::fcntl(p.stdin_fd, F_DUPFD, 3);
    const int out = ::fcntl(p.out_fd, F_DUPFD, 3);
    const int err = ::fcntl(p.stderr_fd, F_DUPFD, 3);
    if (in < 0 || out < 0 || err < 0 || ::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0)
        child_fail("dup2", "stdio", errno);
    ::close_range(3, ~0U, 0);
    if (::chdir(p.tmpdir.c_str()) != 0)
        child_fail("chdir", p.tmpdir.c_str(), errno);
    ::setenv("TMPDIR", p.tmpdir.c_str(), 1);
    ::setenv("RINGFORK_TASK_ARGS", p.args.c_str(), 1);
    ::setenv("RINGFORK_JOB_ID", p.id.c_str(), 1);
    lower_limit(RLIMIT_CPU, p.cpu_seconds);
    lower_limit(RLIMIT_AS, p.address_space);
    lower_limit(RLIMIT_NOFILE, p.open_files);
    // Jobs yield the CPU to the workers: a request never waits behind a computation for a core.
    errno = 0;
    if (const int prio = ::getpriority(PRIO_PROCESS, 0); errno == 0)
        (void)::setpriority(PRIO_PROCESS, 0, std::min(prio + 10, 19));
    if (!p.spec->builtin.empty())
        ::_exit(run_builtin_task(p.spec->builtin, p.args, 1, 2));
    ::execvp(p.argv[0], p.argv.data());
    child_fail("exec", p.argv[0], errno);
}

/// Reads what stderr has now into `keep` (up to `max` bytes, the rest discarded). Returns
/// false at EOF or on an error, when the pipe should be closed.
bool read_stderr(int fd, std::string& keep, std::size_t max)
{
    char chunk[4096];
    for (;;) {
        const ssize_t n = ::read(fd, chunk, sizeof chunk);
        if (n > 0) {
            const std::size_t room = max - std::min(max, keep.size());
            keep.append(chunk, std::min(room, static_cast<std::size_t>(n)));
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && errno == EAGAIN;
    }
}

/// Waits up to `ms` for `fd` to become readable.
bool wait_readable(int fd, int ms)
{
    const auto until = job_clock::now() + std::chrono::milliseconds(ms);
    pollfd p{fd, POLLIN, 0};
    for (;;) {
        const int n = ::poll(&p, 1, ms_until(until));
        if (n > 0)
            return true;
        if (n == 0 || errno != EINTR)
            return false;
    }
}

enum class ending { exited, timed_out, client_gone, error };

/// The job's side of the runner while it runs: body in, stderr out, exit, deadline, client.
struct job_io {
    int conn = -1;
    bool async = false;
    std::uint64_t body_left = 0;
    net::unique_fd stdin_w;
    net::unique_fd stderr_r;
    int pidfd = -1;
    std::vector<char> window = std::vector<char>(body_window);
    std::size_t head = 0, tail = 0; ///< Unwritten body bytes are window[head, tail).
    std::string* stderr_text = nullptr;
    std::size_t stderr_max = 0;

    /// Moves body bytes from the job socket into the job's stdin until the child exits, the
    /// deadline passes, or (synchronous jobs) the client goes away.
    ending supervise(job_clock::time_point deadline)
    {
        for (;;) {
            if (body_left == 0 && head == tail)
                stdin_w.reset(); // EOF for the job
            const int timeout = ms_until(deadline);
            if (timeout == 0)
                return ending::timed_out;
            pollfd fds[4] = {{pidfd, POLLIN, 0}, {stderr_r.get(), POLLIN, 0}, {-1, 0, 0}, {-1, 0, 0}};
            if (body_left > 0 && tail < window.size())
                fds[2] = {conn, POLLIN | POLLRDHUP, 0};
            else if (body_left == 0 && !async)
                fds[2] = {conn, POLLRDHUP, 0}; // the HTTP client leaving closes the worker's end
            if (stdin_w && head < tail)
                fds[3] = {stdin_w.get(), POLLOUT, 0};
            const int n = ::poll(fds, 4, timeout);
            if (n < 0 && errno != EINTR) {
                net::log::error("{}", net::sys_error("poll", "job", errno));
                return ending::error;
            }
            if (n <= 0)
                continue;
            if (fds[0].revents != 0)
                return ending::exited;
            if (fds[1].revents != 0 && !read_stderr(stderr_r.get(), *stderr_text, stderr_max))
                stderr_r.reset();
            if (fds[2].revents != 0 && !read_body())
                return ending::client_gone;
            if (fds[3].revents != 0)
                write_stdin();
        }
    }

    /// False when the worker's end closed before the whole body came (or, once it has come,
    /// at all: for a synchronous job that means the client left).
    bool read_body()
    {
        if (body_left == 0)
            return false;
        const std::size_t want = std::min<std::uint64_t>(window.size() - tail, body_left);
        const ssize_t n = ::recv(conn, window.data() + tail, want, MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if (n == 0)
            return false;
        body_left -= static_cast<std::uint64_t>(n);
        tail += static_cast<std::size_t>(n);
        if (!stdin_w)
            head = tail = 0; // the job stopped reading: drain the rest so the worker is not stuck
        return true;
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

/// Kills the group, reaps the child, reads the last of stderr. Always called once per child.
int end_child(pid_t child, job_io& io, ending how)
{
    if (how == ending::timed_out) {
        ::kill(-child, SIGTERM);
        wait_readable(io.pidfd, term_grace_ms);
    }
    // Always: whatever the job started must not outlive it. The unreaped child keeps the
    // group id reserved, so this cannot hit an unrelated group.
    ::kill(-child, SIGKILL);
    int status = 0;
    while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    // The runner is a child subreaper, so the group's other members are its children by now;
    // they got SIGKILL above, so reaping them takes moments (bounded anyway).
    const auto reap_until = job_clock::now() + std::chrono::milliseconds(orphan_reap_ms);
    siginfo_t info{};
    while (::waitid(P_PGID, static_cast<id_t>(child), &info, WEXITED | WNOHANG) == 0 &&
           job_clock::now() < reap_until)
        if (info.si_pid == 0)
            ::poll(nullptr, 0, 1);
    io.stdin_w.reset();
    const auto until = job_clock::now() + std::chrono::milliseconds(stderr_linger_ms);
    while (io.stderr_r && wait_readable(io.stderr_r.get(), ms_until(until)))
        if (!read_stderr(io.stderr_r.get(), *io.stderr_text, io.stderr_max))
            io.stderr_r.reset();
    return status;
}

} // namespace

job_run run_job(const task_spec& spec, const ipc::job_request& request, int conn,
                const task_pool_settings& settings, volatile std::sig_atomic_t* running_pgid)
{
    job_run run;
    ipc::job_result& r = run.result;
    r.outcome = ipc::stream_outcome::error;
    const auto start = job_clock::now();
    const auto deadline = start + std::chrono::milliseconds(settings.timeout_ms);
    const std::string id(request.id);
    auto fail = [&](std::string_view call, std::string_view object, int err) {
        net::log::error("task {} job {}: {}", spec.name, id, net::sys_error(call, object, err));
        return run;
    };

    child_plan plan;
    plan.spec = &spec;
    plan.args = request.args;
    plan.id = id;
    plan.runner = ::getpid();
    plan.cpu_seconds = settings.cpu_seconds != 0 ? settings.cpu_seconds : (settings.timeout_ms + 999) / 1000 + 1;
    plan.address_space = settings.address_space;
    plan.open_files = settings.open_files;
    for (const std::string& a : spec.argv)
        plan.argv.push_back(const_cast<char*>(a.c_str()));
    plan.argv.push_back(nullptr);
    if (spec.builtin.empty() && spec.argv.empty())
        return fail("exec", spec.name, ENOEXEC);

    std::string tmpl = settings.spool + "/tmp/" + id + "-XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr)
        return fail("mkdtemp", tmpl, errno);
    plan.tmpdir = tmpl;
    struct tmpdir_remover {
        const std::string& path;
        ~tmpdir_remover() { remove_tree(path); }
    } remove_tmpdir{plan.tmpdir};

    const std::string out_path = ipc::spool_path(settings.spool, id, ".out");
    net::unique_fd out(::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!out)
        return fail("open", out_path, errno);
    int in_pipe[2], err_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0)
        return fail("pipe2", "stdin", errno);
    net::unique_fd stdin_r(in_pipe[0]), stdin_w(in_pipe[1]);
    if (::pipe2(err_pipe, O_CLOEXEC) != 0)
        return fail("pipe2", "stderr", errno);
    net::unique_fd stderr_r(err_pipe[0]), stderr_w(err_pipe[1]);
    // Only the runner's ends are non-blocking; the job sees ordinary blocking pipes.
    if (::fcntl(stdin_w.get(), F_SETFL, O_NONBLOCK) != 0 || ::fcntl(stderr_r.get(), F_SETFL, O_NONBLOCK) != 0)
        return fail("fcntl(O_NONBLOCK)", "pipe", errno);
    plan.stdin_fd = stdin_r.get();
    plan.out_fd = out.get();
    plan.stderr_fd = stderr_w.get();

    const pid_t child = ::fork();
    if (child < 0)
        return fail("fork", spec.name, errno);
    if (child == 0)
        run_child(plan);
    // Both sides set the group, so it exists before either goes on; EACCES means the child
    // already exec'd (having set it itself).
    if (::setpgid(child, child) != 0 && errno != EACCES && errno != ESRCH)
        net::log::warn("task {} job {}: {}", spec.name, id, net::sys_error("setpgid", std::to_string(child), errno));
    *running_pgid = child;
    stdin_r.reset();
    stderr_w.reset();

    job_io io;
    io.conn = conn;
    io.async = request.async != 0;
    io.body_left = request.body_length;
    io.stdin_w = std::move(stdin_w);
    io.stderr_r = std::move(stderr_r);
    io.stderr_text = &run.stderr_text;
    io.stderr_max = settings.stderr_max;
    net::unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, child, 0)));
    ending how = ending::error;
    if (pidfd) {
        io.pidfd = pidfd.get();
        how = io.supervise(deadline);
    } else {
        net::log::error("task {} job {}: {}", spec.name, id, net::sys_error("pidfd_open", std::to_string(child), errno));
    }
    const auto exited = job_clock::now();
    const int status = end_child(child, io, how);
    *running_pgid = 0;

    const auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(exited - start).count();
    run.elapsed_us = static_cast<std::uint64_t>(elapsed);
    r.elapsed_ms = static_cast<std::uint32_t>(elapsed / 1000);
    struct stat st{};
    if (::fstat(out.get(), &st) == 0)
        r.output_bytes = static_cast<std::uint64_t>(st.st_size);
    if (WIFEXITED(status))
        r.exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        r.signal = WTERMSIG(status);
    switch (how) {
    case ending::exited:
        r.outcome = r.exit_code == 0 ? ipc::stream_outcome::ok : ipc::stream_outcome::failed;
        break;
    case ending::timed_out: r.outcome = ipc::stream_outcome::timed_out; break;
    case ending::client_gone:
        net::log::warn("task {} job {}: client went away, job killed", spec.name, id);
        r.outcome = ipc::stream_outcome::error;
        break;
    case ending::error: r.outcome = ipc::stream_outcome::error; break;
    }
    return run;
}

} // namespace ringfork::master
