// The task pool's runner processes.
#include "master/tasks/task_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "ipc/task_protocol.hpp"
#include "master/tasks/builtin_tasks.hpp"
#include "master/tasks/task_job.hpp"
#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::master {

namespace {

using runner_clock = std::chrono::steady_clock;

/// How often an idle runner sweeps the spool.
constexpr auto sweep_interval = std::chrono::seconds(10);
/// Bound on reading a job request and on sending its result.
constexpr int request_timeout_s = 5;

// Signal handlers only touch these (and make async-signal-safe calls).
volatile std::sig_atomic_t running_pgid = 0;
volatile std::sig_atomic_t stop_requested = 0;
int wake_fd = -1; ///< Write end of the self-pipe that wakes the accept poll on SIGTERM/SIGQUIT.

/// SIGUSR2 (the master died) and SIGINT: kill the running job's group, leave at once.
void on_fatal_signal(int) noexcept
{
    if (running_pgid > 0)
        ::kill(-running_pgid, SIGKILL);
    ::_exit(1);
}

/// SIGTERM / SIGQUIT: finish the current job, then exit 0.
void on_stop_signal(int) noexcept
{
    const int saved = errno;
    stop_requested = 1;
    if (wake_fd >= 0 && ::write(wake_fd, "x", 1) < 0) {
        // a full pipe already wakes the loop
    }
    errno = saved;
}

bool install_signals(std::string& error)
{
    struct sigaction sa{};
    sigfillset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a blocking accept or poll returns EINTR and sees the flag
    sigset_t handled;
    sigemptyset(&handled);
    using handler = void (*)(int) noexcept;
    const std::pair<int, handler> table[] = {
        {SIGUSR2, on_fatal_signal}, {SIGINT, on_fatal_signal}, {SIGTERM, on_stop_signal}, {SIGQUIT, on_stop_signal}};
    for (auto [sig, fn] : table) {
        sa.sa_handler = fn;
        if (::sigaction(sig, &sa, nullptr) != 0) {
            error = net::sys_error("sigaction", strsignal(sig), errno);
            return false;
        }
        sigaddset(&handled, sig);
    }
    ::signal(SIGPIPE, SIG_IGN);
    sigaddset(&handled, SIGPIPE);
    if (::sigprocmask(SIG_UNBLOCK, &handled, nullptr) != 0) {
        error = net::sys_error("sigprocmask", "SIG_UNBLOCK", errno);
        return false;
    }
    return true;
}

/// Reaps exited orphans of earlier jobs. Only called between jobs, so it never takes the
/// status of a running job's child.
void reap_orphans()
{
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
}

/// Reads up to `size` bytes, stopping early only at EOF, an error or the socket's SO_RCVTIMEO
/// (which bounds every wait); returns how many arrived.
std::size_t read_exact(int fd, void* data, std::size_t size)
{
    auto* p = static_cast<char*>(data);
    std::size_t got = 0;
    while (got < size) {
        const ssize_t n = ::recv(fd, p + got, size - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += static_cast<std::size_t>(n);
    }
    return got;
}

void send_result(int fd, const ipc::job_result& r)
{
    // An async worker has closed its end by now: EPIPE is expected and ignored.
    const auto* p = reinterpret_cast<const char*>(&r);
    std::size_t left = sizeof r;
    while (left > 0) {
        const ssize_t n = ::send(fd, p, left, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        p += n;
        left -= static_cast<std::size_t>(n);
    }
}

void set_timeout(int fd, int option, int seconds)
{
    const timeval tv{seconds, 0};
    ::setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv);
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

std::string_view outcome_name(ipc::stream_outcome o)
{
    switch (o) {
    case ipc::stream_outcome::ok: return "ok";
    case ipc::stream_outcome::failed: return "failed";
    case ipc::stream_outcome::timed_out: return "timed_out";
    case ipc::stream_outcome::unknown_task: return "unknown_task";
    case ipc::stream_outcome::error: return "error";
    case ipc::stream_outcome::rejected: return "rejected";
    case ipc::stream_outcome::cancelled: return "cancelled";
    }
    return "?";
}

/// One runner's state between jobs.
struct runner {
    const task_pool_settings& settings;
    unsigned index;
    int channel_fd;
    ipc::task_stats stats{};

    const task_spec* find(std::string_view name) const
    {
        for (const task_spec& t : settings.tasks)
            if (t.name == name)
                return &t;
        return nullptr;
    }

    void count(const ipc::job_result& r, std::uint64_t elapsed_us)
    {
        switch (r.outcome) {
        case ipc::stream_outcome::ok: ++stats.ok; break;
        case ipc::stream_outcome::failed: ++stats.failed; break;
        case ipc::stream_outcome::timed_out: ++stats.timed_out; break;
        case ipc::stream_outcome::unknown_task: ++stats.unknown_task; return;
        case ipc::stream_outcome::error:
        case ipc::stream_outcome::rejected:
        case ipc::stream_outcome::cancelled: ++stats.errors; break;
        }
        stats.latency.record(elapsed_us);
    }

    void report_stats() const
    {
        if (channel_fd < 0)
            return;
        task_stats_message m;
        m.runner = index;
        m.pid = ::getpid();
        m.stats = stats;
        // Snapshots are cumulative: when the channel is full, the next one supersedes this.
        if (::send(channel_fd, &m, sizeof m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN)
            net::log::warn("{}", net::sys_error("send", "task stats", errno));
    }

    /// One job connection: request, run, result file, reply.
    void serve(int conn)
    {
        set_timeout(conn, SO_RCVTIMEO, request_timeout_s);
        set_timeout(conn, SO_SNDTIMEO, request_timeout_s);
        ipc::job_request req;
        if (const std::size_t got = read_exact(conn, &req, sizeof req); got != sizeof req) {
            if (got != 0) // a connection closed before sending anything is not worth a line
                net::log::warn("job request: {} of {} bytes (closed or {} s timeout), connection closed", got,
                               sizeof req, request_timeout_s);
            return;
        }
        if (req.version != ipc::task_stream_version) {
            net::log::warn("job request: protocol version {} (want {}), connection closed", req.version,
                           ipc::task_stream_version);
            return;
        }
        req.id[ipc::job_id_len] = req.name[ipc::task_name_max] = req.args[ipc::task_args_max] = '\0';
        const std::string id(req.id), name(req.name);
        ipc::job_result r;
        if (!ipc::valid_job_id(id)) {
            net::log::warn("task {}: invalid job id, connection closed", name);
            ++stats.errors;
            send_result(conn, r);
            return;
        }
        job_run run;
        if (const task_spec* spec = find(name)) {
            ++stats.started;
            report_stats(); // the master sees the job as running, not queued, while it runs
            run = run_job(*spec, req, conn, settings, &running_pgid);
            r = run.result;
        } else {
            r.outcome = ipc::stream_outcome::unknown_task;
        }
        count(r, run.elapsed_us);
        if (std::string error; !write_result_file(settings.spool, id, r, error))
            net::log::error("task {} job {}: {}", name, id, error);
        if (const std::string run_path = ipc::spool_path(settings.spool, id, ".run");
            ::unlink(run_path.c_str()) != 0 && errno != ENOENT)
            net::log::warn("{}", net::sys_error("unlink", run_path, errno));
        send_result(conn, r);

        const std::string how = r.signal != 0 ? fmt::format("signal {}", r.signal) : fmt::format("exit {}", r.exit_code);
        if (!run.stderr_text.empty())
            net::log::warn("task {} job {} {}: {}", name, id, how, escape_line(run.stderr_text));
        if (r.outcome == ipc::stream_outcome::unknown_task)
            net::log::info("task {} job {}: unknown_task", name, id);
        else
            net::log::info("task {} job {}: {} ({}), {} ms{}", name, id, outcome_name(r.outcome), how, r.elapsed_ms,
                           req.async != 0 ? ", async" : "");
    }
};

bool valid_task_name(std::string_view name)
{
    if (name.empty() || name.size() > ipc::task_name_max)
        return false;
    for (const char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    return true;
}

/// Splits on blanks; '...' and "..." quote literally (no escapes) and join adjacent text.
std::optional<std::vector<std::string>> split_command(std::string_view text, std::string& error)
{
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == ' ' || c == '\t') {
            if (in_word)
                words.push_back(std::exchange(word, {}));
            in_word = false;
        } else if (c == '\'' || c == '"') {
            const auto close = text.find(c, i + 1);
            if (close == std::string_view::npos) {
                error = fmt::format("unterminated {} quote", c);
                return std::nullopt;
            }
            word.append(text.substr(i + 1, close - i - 1));
            in_word = true;
            i = close;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word)
        words.push_back(std::move(word));
    return words;
}

} // namespace

std::optional<task_spec> parse_task_flag(std::string_view text, std::string& error)
{
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) {
        error = fmt::format("task '{}': expected NAME=COMMAND", text);
        return std::nullopt;
    }
    task_spec spec;
    spec.name = text.substr(0, eq);
    if (!valid_task_name(spec.name)) {
        error = fmt::format("task name '{}': want 1 to {} of [A-Za-z0-9_-]", spec.name, ipc::task_name_max);
        return std::nullopt;
    }
    std::string split_error;
    auto words = split_command(text.substr(eq + 1), split_error);
    if (!words) {
        error = fmt::format("task {}: {}", spec.name, split_error);
        return std::nullopt;
    }
    if (words->empty()) {
        error = fmt::format("task {}: empty command", spec.name);
        return std::nullopt;
    }
    if (std::string_view first = words->front(); first.starts_with("builtin:")) {
        first.remove_prefix(8);
        if (!is_builtin_task(first) || words->size() != 1) {
            error = fmt::format("task {}: unknown builtin '{}' (known: builtin:prime, builtin:fib, no arguments)",
                                spec.name, words->front());
            return std::nullopt;
        }
        spec.builtin = first;
        return spec;
    }
    spec.argv = std::move(*words);
    return spec;
}

std::optional<pool_socket> make_pool_socket(unsigned queue, std::string& error)
{
    std::uint64_t nonce = 0;
    if (::getrandom(&nonce, sizeof nonce, 0) != static_cast<ssize_t>(sizeof nonce))
        nonce = static_cast<std::uint64_t>(runner_clock::now().time_since_epoch().count());
    pool_socket s;
    s.address = fmt::format("@ringfork-tasks-{}-{:016x}", ::getpid(), nonce);
    sockaddr_un sa{};
    socklen_t len = 0;
    if (!ipc::task_pool_sockaddr(s.address, sa, len)) {
        error = fmt::format("pool address {} too long", s.address);
        return std::nullopt;
    }
    s.fd.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s.fd) {
        error = net::sys_error("socket(AF_UNIX)", s.address, errno);
        return std::nullopt;
    }
    if (::bind(s.fd.get(), reinterpret_cast<const sockaddr*>(&sa), len) != 0) {
        error = net::sys_error("bind", s.address, errno);
        return std::nullopt;
    }
    if (::listen(s.fd.get(), static_cast<int>(std::min<unsigned>(queue, INT_MAX))) != 0) {
        error = net::sys_error("listen", s.address, errno);
        return std::nullopt;
    }
    return s;
}

int run_task_runner(int listen_fd, unsigned index, pid_t master_pid, const task_pool_settings& settings,
                    int channel_fd)
{
    // A master dying before this prctl is caught by the getppid check; one dying after it
    // leaves SIGUSR2 pending (still blocked) until the handler below is installed.
    ::prctl(PR_SET_PDEATHSIG, SIGUSR2);
    if (::getppid() != master_pid)
        return 1;
    // Orphans of a job (its background processes) become this runner's children, not the
    // master's or init's, so the runner reaps them and they never pile up as zombies.
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    net::log::set_role(fmt::format("task runner {}", index));
    prctl(PR_SET_NAME, "rf-task");
    int wake[2];
    if (::pipe2(wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        net::log::error("{}", net::sys_error("pipe2", "wake", errno));
        return 1;
    }
    const net::unique_fd wake_r(wake[0]), wake_w(wake[1]);
    wake_fd = wake_w.get();
    std::string error;
    if (!install_signals(error) || !prepare_spool(settings.spool, error)) {
        net::log::error("{}", error);
        return 1;
    }

    runner self{settings, index, channel_fd};
    sweep_spool(settings.spool, settings.ttl_s, std::time(nullptr));
    auto next_sweep = runner_clock::now() + sweep_interval;
    net::log::info("ready: {} tasks, spool {}, timeout {} ms", settings.tasks.size(), settings.spool,
                   settings.timeout_ms);
    while (!stop_requested) {
        pollfd fds[2] = {{listen_fd, POLLIN, 0}, {wake_r.get(), POLLIN, 0}};
        const auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_sweep - runner_clock::now()).count();
        const int n = ::poll(fds, 2, static_cast<int>(std::max<long long>(wait, 0)));
        if (n < 0 && errno != EINTR) {
            net::log::error("{}", net::sys_error("poll", "pool socket", errno));
            return 1;
        }
        reap_orphans();
        if (runner_clock::now() >= next_sweep) {
            sweep_spool(settings.spool, settings.ttl_s, std::time(nullptr));
            next_sweep = runner_clock::now() + sweep_interval;
        }
        if (stop_requested || n <= 0 || (fds[0].revents & POLLIN) == 0)
            continue;
        // Another runner may win this connection; accept then blocks until the next one (or
        // a signal), which only delays this idle runner's sweep.
        const net::unique_fd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn) {
            if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED) {
                net::log::warn("{}", net::sys_error("accept4", "pool socket", errno));
                ::poll(nullptr, 0, 100); // EMFILE and friends: do not spin
            }
            continue;
        }
        self.serve(conn.get());
        self.report_stats();
    }
    // A graceful stop still runs what is queued (async jobs were promised a result); the
    // workers have stopped submitting by now, and each job is bounded by its timeout. The
    // listening socket is shared with the other runners, so accept() gets a receive
    // timeout rather than O_NONBLOCK: losing a race to another runner ends this loop.
    const timeval brief{0, 100'000};
    (void)setsockopt(listen_fd, SOL_SOCKET, SO_RCVTIMEO, &brief, sizeof brief);
    for (;;) {
        pollfd p{listen_fd, POLLIN, 0};
        if (::poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
            break;
        const net::unique_fd conn(::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC));
        if (!conn)
            break;
        self.serve(conn.get());
        self.report_stats();
    }
    net::log::info("stopping after {} jobs", self.stats.started);
    return 0;
}

} // namespace ringfork::master
