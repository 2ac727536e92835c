// A real runner process, driven over its channel as the broker drives it: command and
// function jobs, bodies in records and from the spool, progress,
// failures, what a job leaves behind, and how the runner stops.
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "ipc/app_spec.hpp"
#include "ipc/spool.hpp"
#include "ipc/task_channel.hpp"
#include "master/tasks/registry.hpp"
#include "master/tasks/runner.hpp"
#include "net/log.hpp"

using namespace ringfork;
using namespace ringfork::master;
using std::chrono::steady_clock;

namespace {

std::string read_file(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

bool alive(pid_t pid)
{
    const std::string stat = read_file(fmt::format("/proc/{}/stat", pid));
    const auto paren = stat.rfind(')');
    return paren != std::string::npos && stat.size() > paren + 2 && stat[paren + 2] != 'Z';
}

template <typename F> bool wait_for(F cond, int ms = 5000)
{
    const auto until = steady_clock::now() + std::chrono::milliseconds(ms);
    while (!cond()) {
        if (steady_clock::now() > until)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return true;
}

/// Loops until the job is cancelled (the master's SIGTERM), then says so.
int wait_for_cancel(master::task_context& ctx, std::span<const char>)
{
    ctx.progress("waiting");
    while (!ctx.cancelled())
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    const std::string_view line = "cancelled\n";
    ctx.emit(line);
    return 7;
}

/// Echoes its input back, in two pieces, with a progress line between.
int echo_function(master::task_context& ctx, std::span<const char> input)
{
    const std::size_t half = input.size() / 2;
    ctx.emit(input.first(half));
    ctx.progress("half way");
    ctx.emit(input.subspan(half));
    return 0;
}

[[maybe_unused]] const bool registered = register_task_function("unit-wait-cancel", wait_for_cancel) &&
                                         register_task_function("unit-echo", echo_function);

/// What one job did, as the master and the submitter saw it.
struct job_seen {
    ipc::runner_message done{};
    std::vector<std::string> progress;  ///< progress messages to the master
    bool started = false;
    pid_t pgid = 0;
    std::string streamed;               ///< output records, in order
    std::string out, err;               ///< the spool files
};

struct runner_fixture {
    std::string dir;
    std::string spool_path;
    std::optional<ipc::spool> spool;
    task_pool_settings settings;
    ringfork::detail::app_spec app;
    std::optional<task_registry> registry;
    std::string log_path;
    pid_t pid = -1;
    net::unique_fd channel;
    unsigned next_id = 1;

    runner_fixture()
    {
        char tmpl[] = "/tmp/rf-runner-test-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        spool_path = dir + "/spool";
        log_path = dir + "/runner.log";
        std::string error;
        spool = ipc::spool::open(spool_path, {::geteuid(), ::getegid()}, error);
        BOOST_REQUIRE_MESSAGE(spool, error);
        settings.spool = spool_path;
        settings.max_output = 1 << 20;
        settings.tasks = {
            {"echo", {"cat"}, ""},
            {"fail", {"sh", "-c", "echo out; echo oops >&2; echo 'line two' >&2; exit 3"}, ""},
            {"env", {"sh", "-c", "echo \"$RINGFORK_TASK_ARGS\"; echo \"$RINGFORK_JOB_ID\"; pwd; echo \"$TMPDIR\"; "
                                 "ulimit -n; echo 40% >&$RINGFORK_PROGRESS_FD; echo 80% >&$RINGFORK_PROGRESS_FD"}, ""},
            {"escape", {"sh", "-c", "setsid sleep 1000 & echo $!; sleep 0.2"}, ""},
            {"missing", {"/nonexistent/rf-cmd"}, ""},
            {"yes", {"yes"}, ""},
            {"hang", {"sh", "-c", "sleep 100 & sleep 100"}, ""},
            {"prime", {}, "prime"},
            {"fecho", {}, "unit-echo"},
            {"cancel", {}, "unit-wait-cancel"}};
        app.function_tasks.push_back({"app-echo",
                                      [](ringfork::task_context& ctx, std::string_view input) {
                                          ctx.emit("from the app: ");
                                          return std::string(input);
                                      },
                                      {}});
        app.function_tasks.push_back({"app-throws", [](ringfork::task_context&, std::string_view) -> std::string {
                                          throw std::runtime_error("the input was not a picture");
                                      }, {}});
        app.on_runner_start.push_back([] { ::setenv("RF_UNIT_RUNNER_HOOK", "ran", 1); });
        app.command_tasks.push_back({"hook", {"sh", "-c", "echo $RF_UNIT_RUNNER_HOOK"}, {}});
        add_app_tasks(settings, app);
        registry.emplace(settings);
    }

    ~runner_fixture()
    {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        std::filesystem::remove_all(dir);
    }

    void start()
    {
        int sv[2];
        BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
        channel.reset(sv[0]);
        const pid_t parent = ::getpid();
        pid = ::fork();
        BOOST_REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(sv[0]); // as the broker's spawn does: only the runner's own end
            const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            net::log::set_fd(log_fd);
            runner_start s;
            s.index = 0;
            s.master_pid = parent;
            s.channel_fd = sv[1];
            s.settings = &settings;
            s.registry = &*registry;
            s.spool = &*spool;
            ::_exit(run_task_runner(s));
        }
        ::close(sv[1]);
        ipc::runner_message m;
        BOOST_REQUIRE(recv(m));
        BOOST_TEST(int(m.type) == int(ipc::runner_msg::ready));
    }

    /// One message from the runner, waiting up to `ms`.
    bool recv(ipc::runner_message& m, int ms = 10000)
    {
        pollfd p{channel.get(), POLLIN, 0};
        if (::poll(&p, 1, ms) != 1)
            return false;
        net::unique_fd fd;
        return ipc::recv_runner_message(channel.get(), m, fd) == 1;
    }

    std::string new_id() { return fmt::format("{:08x}{:024x}", static_cast<unsigned>(::getpid()), next_id++); }

    /// Sends run_job for `name` with the submitter's end of a fresh job socket kept in
    /// `submitter` (none for async jobs).
    std::string submit(std::string_view name, std::string_view args, std::uint8_t flags, std::uint32_t body_length,
                       net::unique_fd& submitter)
    {
        const std::string id = new_id();
        ipc::runner_message m;
        m.type = ipc::runner_msg::run_job;
        ipc::set_text(m.id, id);
        ipc::set_text(m.job.id, id);
        ipc::set_text(m.job.name, name);
        ipc::set_text(m.job.args, args);
        m.job.flags = flags;
        m.job.body_length = body_length;
        net::unique_fd theirs;
        if ((flags & ipc::job_async) == 0) {
            int sv[2];
            BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
            submitter.reset(sv[0]);
            theirs.reset(sv[1]);
        }
        BOOST_REQUIRE(ipc::send_runner_message(channel.get(), m, theirs.get()) == 0);
        return id;
    }

    /// Reads the runner's messages until `done`, and whatever the submitter received.
    job_seen finish(const std::string& id, int submitter = -1)
    {
        job_seen seen;
        ipc::runner_message m;
        for (;;) {
            BOOST_REQUIRE_MESSAGE(recv(m), "no done from the runner for job " << id);
            BOOST_REQUIRE(ipc::text_of(m.id) == id);
            if (m.type == ipc::runner_msg::started) {
                seen.started = true;
                seen.pgid = m.pgid;
            } else if (m.type == ipc::runner_msg::progress) {
                seen.progress.emplace_back(ipc::text_of(m.text));
            } else if (m.type == ipc::runner_msg::done) {
                seen.done = m;
                break;
            }
        }
        std::string buf;
        while (submitter >= 0) {
            buf.assign(ipc::record_bytes_max + 256, '\0');
            const ssize_t n = ::recv(submitter, buf.data(), buf.size(), MSG_DONTWAIT);
            if (n <= 0)
                break;
            buf.resize(static_cast<std::size_t>(n));
            const auto r = ipc::parse_record(buf);
            BOOST_REQUIRE(r);
            if (r->type == ipc::record_type::output)
                seen.streamed.append(r->payload.data() + sizeof(ipc::output_head),
                                     r->payload.size() - sizeof(ipc::output_head));
        }
        seen.out = read_file(spool_path + "/" + ipc::spool::name(id, ipc::spool::file::out));
        seen.err = read_file(spool_path + "/" + ipc::spool::name(id, ipc::spool::file::err));
        return seen;
    }

    /// A synchronous job with `body` sent as records.
    job_seen run(std::string_view name, std::string_view args = "", std::string_view body = "",
                 std::uint8_t flags = ipc::job_cancel_on_close)
    {
        net::unique_fd sub;
        const std::string id = submit(name, args, flags, static_cast<std::uint32_t>(body.size()), sub);
        while (!body.empty()) {
            const std::size_t n = std::min(body.size(), ipc::record_bytes_max);
            int rc;
            while ((rc = ipc::send_record(sub.get(), ipc::record_type::body, body.substr(0, n))) == -EAGAIN) {
                pollfd p{sub.get(), POLLOUT, 0};
                ::poll(&p, 1, 1000);
            }
            BOOST_REQUIRE(rc == 0);
            body.remove_prefix(n);
        }
        BOOST_REQUIRE(ipc::send_record(sub.get(), ipc::record_type::body_end, {}) == 0);
        return finish(id, sub.get());
    }

    std::string log() const { return read_file(log_path); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(task_runner)

BOOST_AUTO_TEST_CASE(a_body_streams_through_the_command)
{
    runner_fixture f;
    f.start();
    std::string big(300 * 1024, '\0');
    for (std::size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<char>(i * 7 + i / 1000);
    const job_seen s = f.run("echo", "", big, ipc::job_cancel_on_close | ipc::job_stream);
    BOOST_TEST(s.started);
    BOOST_TEST(s.pgid != f.pid); // a command has its own process group
    BOOST_TEST(s.done.exit_code == 0);
    BOOST_TEST(s.done.signal == 0);
    BOOST_TEST(int(s.done.failure) == int(ipc::job_failure::none));
    BOOST_TEST(s.done.output_bytes == big.size());
    BOOST_TEST((s.out == big));
    // Streamed output, where the socket had room, matches the file byte for byte.
    BOOST_TEST(!s.streamed.empty());
    BOOST_TEST((big.compare(0, s.streamed.size(), s.streamed) == 0 || s.streamed.size() < big.size()));
    BOOST_TEST(s.done.rss_kb > 0u);

    const job_seen empty = f.run("echo");
    BOOST_TEST(empty.done.exit_code == 0);
    BOOST_TEST(empty.out.empty());
}

BOOST_AUTO_TEST_CASE(a_job_sees_its_args_id_directory_and_progress_descriptor)
{
    runner_fixture f;
    f.start();
    const job_seen s = f.run("env", "a=1&b=two");
    std::istringstream lines(s.out);
    std::string args, id, pwd, tmpdir, nofile;
    std::getline(lines, args);
    std::getline(lines, id);
    std::getline(lines, pwd);
    std::getline(lines, tmpdir);
    std::getline(lines, nofile);
    BOOST_TEST(args == "a=1&b=two");
    BOOST_TEST(ipc::valid_job_id(id));
    BOOST_TEST(pwd == tmpdir);
    BOOST_TEST(tmpdir.starts_with(f.spool_path + "/tmp/" + id + "-"));
    BOOST_TEST(nofile == "256");
    BOOST_TEST(!std::filesystem::exists(tmpdir)); // removed after the job
    BOOST_REQUIRE(!s.progress.empty());
    BOOST_TEST(s.progress.back() == "80%"); // the latest line always reaches the master
}

BOOST_AUTO_TEST_CASE(failures_keep_stderr_and_log_its_start)
{
    runner_fixture f;
    f.start();
    const job_seen s = f.run("fail");
    BOOST_TEST(s.done.exit_code == 3);
    BOOST_TEST(s.out == "out\n");
    BOOST_TEST(s.err == "oops\nline two\n");
    BOOST_TEST(wait_for([&] { return f.log().find("exit 3: oops\\nline two\\n") != std::string::npos; }), f.log());

    const job_seen m = f.run("missing");
    BOOST_TEST(m.done.exit_code == 127);
    BOOST_TEST(m.err.find("/nonexistent/rf-cmd") != std::string::npos, m.err);
    BOOST_TEST(m.err.find("No such file") != std::string::npos, m.err);
}

BOOST_AUTO_TEST_CASE(output_over_the_cap_ends_the_job)
{
    runner_fixture f;
    f.settings.max_output = 100000;
    f.start();
    const job_seen s = f.run("yes");
    BOOST_TEST(int(s.done.failure) == int(ipc::job_failure::output_cap));
    BOOST_TEST(s.done.output_bytes == 100000u);
    BOOST_TEST(s.out.size() == 100000u);
    BOOST_TEST(ipc::text_of(s.done.text).find("100000 bytes") != std::string_view::npos);
}

BOOST_AUTO_TEST_CASE(nothing_a_job_started_outlives_it)
{
    runner_fixture f;
    f.start();
    const job_seen s = f.run("escape");
    BOOST_TEST(s.done.exit_code == 0);
    const pid_t escaped = std::stoi(s.out);
    BOOST_TEST(escaped > 0);
    // It left the job's session and group; the runner, its subreaper, killed it anyway.
    BOOST_TEST(!alive(escaped));
}

BOOST_AUTO_TEST_CASE(function_jobs_run_inside_the_runner)
{
    runner_fixture f;
    f.start();
    job_seen s = f.run("prime", "n=29355126551");
    BOOST_TEST(s.started);
    BOOST_TEST(s.pgid == f.pid); // its process group is the runner's
    BOOST_TEST(s.done.exit_code == 0);
    BOOST_TEST(s.out == "29355126551 is prime\n");
    s = f.run("prime", "n=x");
    BOOST_TEST(s.done.exit_code == 2);
    BOOST_TEST(s.err.find("invalid argument") != std::string::npos);

    s = f.run("fecho", "", "function body", ipc::job_cancel_on_close | ipc::job_stream | ipc::job_progress);
    BOOST_TEST(s.out == "function body");
    BOOST_TEST(s.streamed == "function body");
    BOOST_TEST(s.progress == std::vector<std::string>{"half way"});
}

BOOST_AUTO_TEST_CASE(the_applications_functions_and_hooks_run_in_the_runner)
{
    runner_fixture f;
    f.start();
    job_seen s = f.run("app-echo", "", "bytes in");
    BOOST_TEST(s.done.exit_code == 0);
    BOOST_TEST(s.out == "from the app: bytes in");
    s = f.run("app-throws");
    BOOST_TEST(int(s.done.failure) == int(ipc::job_failure::function));
    BOOST_TEST(ipc::text_of(s.done.text).find("the input was not a picture") != std::string_view::npos);
    // on_runner_start ran in the runner before its first job (commands inherit its env).
    s = f.run("hook");
    BOOST_TEST(s.out == "ran\n");
}

BOOST_AUTO_TEST_CASE(sigterm_asks_a_function_job_to_stop)
{
    runner_fixture f;
    f.start();
    net::unique_fd sub;
    const std::string id = f.submit("cancel", "", ipc::job_async, 0, sub);
    ipc::runner_message m;
    BOOST_REQUIRE(f.recv(m));
    BOOST_TEST(int(m.type) == int(ipc::runner_msg::started));
    ::kill(f.pid, SIGTERM);
    const job_seen s = f.finish(id);
    BOOST_TEST(s.done.exit_code == 7);
    BOOST_TEST(s.out == "cancelled\n");
    // The runner goes on: the next job does not see the old request to stop.
    const job_seen next = f.run("prime", "n=7");
    BOOST_TEST(next.out == "7 is prime\n");
}

BOOST_AUTO_TEST_CASE(async_jobs_read_their_body_from_the_spool)
{
    runner_fixture f;
    f.start();
    for (const char* task : {"echo", "fecho"}) {
        net::unique_fd none;
        const std::string id = f.new_id();
        int err = 0;
        {
            const net::unique_fd in = f.spool->create(id, ipc::spool::file::in, err);
            BOOST_REQUIRE(in);
            BOOST_REQUIRE(::write(in.get(), "from the spool", 14) == 14);
        }
        ipc::runner_message m;
        m.type = ipc::runner_msg::run_job;
        ipc::set_text(m.id, id);
        ipc::set_text(m.job.id, id);
        ipc::set_text(m.job.name, task);
        m.job.flags = ipc::job_async;
        m.job.body_length = 14;
        BOOST_REQUIRE(ipc::send_runner_message(f.channel.get(), m) == 0);
        const job_seen s = f.finish(id);
        BOOST_TEST(s.done.exit_code == 0, task);
        BOOST_TEST(s.out == "from the spool", task);
    }
}

BOOST_AUTO_TEST_CASE(a_closed_channel_stops_the_runner)
{
    runner_fixture f;
    f.start();
    f.channel.reset();
    int status = -1;
    BOOST_TEST(wait_for([&] { return ::waitpid(f.pid, &status, WNOHANG) == f.pid; }));
    f.pid = -1;
    BOOST_TEST(WIFEXITED(status), "status " << status << "; log: " << f.log());
    BOOST_TEST(WEXITSTATUS(status) == 0);
}

BOOST_AUTO_TEST_CASE(the_masters_death_kills_the_running_job)
{
    runner_fixture f;
    f.start();
    net::unique_fd sub;
    const std::string id = f.submit("hang", "", ipc::job_cancel_on_close, 0, sub);
    BOOST_REQUIRE(ipc::send_record(sub.get(), ipc::record_type::body_end, {}) == 0);
    ipc::runner_message m;
    BOOST_REQUIRE(f.recv(m));
    BOOST_REQUIRE(int(m.type) == int(ipc::runner_msg::started));
    const pid_t group = m.pgid;
    ::kill(f.pid, SIGUSR2); // what PR_SET_PDEATHSIG sends when the master dies
    int status = -1;
    BOOST_TEST(wait_for([&] { return ::waitpid(f.pid, &status, WNOHANG) == f.pid; }));
    f.pid = -1;
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 1);
    BOOST_TEST(wait_for([&] { return ::kill(-group, 0) != 0; }, 2000)); // the whole group is gone
}

BOOST_AUTO_TEST_SUITE_END()
