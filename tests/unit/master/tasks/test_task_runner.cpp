// The task pool: the --task flag, the builtins' arithmetic, the spool sweep, and a real runner
// process driven end to end the way a worker drives it (here with plain blocking sockets).
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
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "ipc/task_protocol.hpp"
#include "master/tasks/builtin_tasks.hpp"
#include "master/tasks/task_runner.hpp"
#include "master/tasks/task_spool.hpp"
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

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

void write_file(const std::string& path, std::string_view text)
{
    std::ofstream(path, std::ios::binary) << text;
}

/// Sets a file's modification time `age_s` seconds into the past.
void age(const std::string& path, int age_s)
{
    const timespec t[2] = {{std::time(nullptr) - age_s, 0}, {std::time(nullptr) - age_s, 0}};
    BOOST_REQUIRE(::utimensat(AT_FDCWD, path.c_str(), t, AT_SYMLINK_NOFOLLOW) == 0);
}

/// Polls `cond` every 10 ms until it holds or `ms` pass.
template <typename F> bool wait_for(F cond, int ms = 5000)
{
    const auto until = steady_clock::now() + std::chrono::milliseconds(ms);
    while (!cond()) {
        if (steady_clock::now() > until)
            return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

struct temp_dir {
    std::string path;
    temp_dir()
    {
        char tmpl[] = "/tmp/rf-task-test-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~temp_dir() { remove_tree(path); }
};

/// Output of run_builtin_task through a pipe: {exit code, stdout, stderr}.
struct builtin_output {
    int code;
    std::string out, err;
};

builtin_output run_builtin(std::string_view name, std::string_view args)
{
    int out[2], err[2];
    BOOST_REQUIRE(::pipe(out) == 0 && ::pipe(err) == 0);
    builtin_output r{run_builtin_task(name, args, out[1], err[1]), {}, {}};
    ::close(out[1]);
    ::close(err[1]);
    char buf[512];
    for (auto [fd, text] : {std::pair{out[0], &r.out}, {err[0], &r.err}}) {
        ssize_t n;
        while ((n = ::read(fd, buf, sizeof buf)) > 0)
            text->append(buf, static_cast<std::size_t>(n));
        ::close(fd);
    }
    return r;
}

/// Processes whose process group is `pgid`; zombies only count with `zombies`.
int in_group(pid_t pgid, bool zombies)
{
    int live = 0;
    DIR* d = ::opendir("/proc");
    while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        const std::string stat = read_file(fmt::format("/proc/{}/stat", e->d_name));
        const auto paren = stat.rfind(')');
        if (paren == std::string::npos)
            continue;
        char state = 0;
        int ppid = 0, pgrp = 0;
        if (std::sscanf(stat.c_str() + paren + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
            (zombies || (state != 'Z' && state != 'X')))
            ++live;
    }
    ::closedir(d);
    return live;
}

/// A runner process on a fresh pool socket and spool, driven like a worker would.
struct runner_fixture {
    temp_dir dir;
    std::string spool = dir.path + "/spool";
    std::string log_path = dir.path + "/runner.log";
    task_pool_settings settings;
    std::string address;
    pid_t pid = -1;
    unsigned next_id = 1;
    int channel[2] = {-1, -1}; ///< [0] reads the runner's task_stats_message datagrams.

    runner_fixture()
    {
        settings.spool = spool;
        settings.timeout_ms = 5000;
        settings.tasks = {{"echo", {"cat"}, ""},
                          {"fail", {"sh", "-c", "echo oops >&2; echo 'line two' >&2; exit 3"}, ""},
                          {"env", {"sh", "-c", "echo \"$RINGFORK_TASK_ARGS\"; echo \"$RINGFORK_JOB_ID\"; pwd; "
                                               "echo \"$TMPDIR\"; ulimit -n"}, ""},
                          {"hang", {"sh", "-c", "echo $$; sleep 100 & sleep 100"}, ""},
                          {"slow", {"sh", "-c", "echo started; sleep 0.3; echo done"}, ""},
                          {"missing", {"/nonexistent/rf-cmd"}, ""},
                          {"prime", {}, "prime"},
                          {"fib", {}, "fib"}};
    }
    ~runner_fixture()
    {
        if (pid > 0) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, nullptr, 0);
        }
        for (int fd : channel)
            if (fd >= 0)
                ::close(fd);
    }

    void start()
    {
        std::string error;
        auto pool = make_pool_socket(8, error);
        BOOST_REQUIRE_MESSAGE(pool, error);
        BOOST_REQUIRE_MESSAGE(prepare_spool(spool, error), error);
        address = pool->address;
        BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, channel) == 0);
        const pid_t parent = ::getpid();
        pid = ::fork();
        BOOST_REQUIRE(pid >= 0);
        if (pid == 0) {
            const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
            net::log::set_fd(log_fd);
            ::_exit(run_task_runner(pool->fd.get(), 0, parent, settings, channel[1]));
        }
    }

    /// Stops the runner with `sig` and returns its wait status.
    int stop(int sig = SIGTERM)
    {
        ::kill(pid, sig);
        int status = -1;
        const bool gone = wait_for([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 3000);
        BOOST_CHECK(gone);
        if (gone)
            pid = -1;
        return status;
    }

    std::string new_id() { return fmt::format("{:08x}{:024x}", static_cast<unsigned>(::getpid()), next_id++); }

    /// Connects, sends the request and body; returns the job connection.
    int submit(const std::string& id, std::string_view name, std::string_view args, std::string_view body,
               bool async = false)
    {
        sockaddr_un sa{};
        socklen_t len = 0;
        BOOST_REQUIRE(ipc::task_pool_sockaddr(address, sa, len));
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        BOOST_REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&sa), len) == 0);
        ipc::job_request req;
        req.async = async ? 1 : 0;
        req.body_length = static_cast<std::uint32_t>(body.size());
        std::memcpy(req.id, id.data(), id.size());
        std::memcpy(req.name, name.data(), name.size());
        std::memcpy(req.args, args.data(), args.size());
        BOOST_REQUIRE(::send(fd, &req, sizeof req, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof req));
        while (!body.empty()) {
            const ssize_t n = ::send(fd, body.data(), body.size(), MSG_NOSIGNAL);
            BOOST_REQUIRE(n > 0);
            body.remove_prefix(static_cast<std::size_t>(n));
        }
        return fd;
    }

    /// Runs a synchronous job and returns its result (also checked against "<id>.res").
    ipc::job_result run(const std::string& id, std::string_view name, std::string_view args = "",
                        std::string_view body = "")
    {
        const int fd = submit(id, name, args, body);
        const timeval tv{10, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ipc::job_result r;
        BOOST_REQUIRE(::recv(fd, &r, sizeof r, MSG_WAITALL) == static_cast<ssize_t>(sizeof r));
        ::close(fd);
        const std::string res = read_file(path(id, ".res"));
        BOOST_REQUIRE_EQUAL(res.size(), sizeof r);
        BOOST_CHECK(std::memcmp(res.data(), &r, sizeof r) == 0);
        return r;
    }

    std::string path(const std::string& id, std::string_view ext) const { return ipc::spool_path(spool, id, ext); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(task_flag)

BOOST_AUTO_TEST_CASE(commands_split_on_blanks_with_quotes)
{
    std::string error;
    auto s = parse_task_flag("echo=cat", error);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->name == "echo");
    BOOST_TEST(s->argv == std::vector<std::string>{"cat"});
    BOOST_TEST(s->builtin.empty());

    s = parse_task_flag("grep-1=grep  -i 'a b'c \"x y\" ''", error);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->argv == (std::vector<std::string>{"grep", "-i", "a bc", "x y", ""}));

    s = parse_task_flag("is_prime=builtin:prime", error);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->builtin == "prime");
    BOOST_TEST(s->argv.empty());
}

BOOST_AUTO_TEST_CASE(bad_flags_are_reported)
{
    std::string error;
    for (const char* bad : {"cat", "=cat", "a b=cat", "a/b=cat", "x=", "x=   ", "x='open", "x=\"open",
                            "x=builtin:nope", "x=builtin:prime extra"}) {
        error.clear();
        BOOST_TEST(!parse_task_flag(bad, error).has_value(), bad);
        BOOST_TEST(!error.empty(), bad);
    }
    BOOST_TEST(parse_task_flag(std::string(64, 'n') + "=true", error).has_value());
    BOOST_TEST(!parse_task_flag(std::string(65, 'n') + "=true", error).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(builtin_tasks)

BOOST_AUTO_TEST_CASE(prime_by_trial_division)
{
    BOOST_TEST(!check_prime(0).prime);
    BOOST_TEST(!check_prime(1).prime);
    BOOST_TEST(check_prime(2).prime);
    BOOST_TEST(check_prime(3).prime);
    BOOST_TEST(check_prime(4).divisor == 2u);
    BOOST_TEST(check_prime(9).divisor == 3u);
    BOOST_TEST(check_prime(1000000007).prime);
    BOOST_TEST(check_prime(4294967291).prime);       // largest 32-bit prime
    BOOST_TEST(check_prime(29355126551).prime);
    BOOST_TEST(check_prime(600851475143).divisor == 71u);
    BOOST_TEST(check_prime(4294967297).divisor == 641u); // Fermat's F5
    BOOST_TEST(check_prime(18446744073709551615ull).divisor == 3u);
    BOOST_TEST(check_prime(4295098369).divisor == 65537u); // 65537^2: the sqrt bound is inclusive
}

BOOST_AUTO_TEST_CASE(fib_by_recursion)
{
    const std::uint64_t expect[] = {0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55};
    for (unsigned n = 0; n <= 10; ++n)
        BOOST_TEST(naive_fib(n) == expect[n]);
    BOOST_TEST(naive_fib(30) == 832040u);
}

BOOST_AUTO_TEST_CASE(output_and_bad_arguments)
{
    auto r = run_builtin("prime", "n=29355126551");
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.out == "29355126551 is prime\n");
    r = run_builtin("prime", "x=1&n=600851475143");
    BOOST_TEST(r.out == "600851475143 is not prime: divisible by 71\n");
    r = run_builtin("prime", "n=1");
    BOOST_TEST(r.out == "1 is not prime\n");
    r = run_builtin("fib", "n=20");
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.out == "6765\n");
    for (auto [name, args] : {std::pair{"prime", ""}, {"prime", "n="}, {"prime", "n=-3"}, {"prime", "n=12a"},
                              {"prime", "n=18446744073709551616"}, {"fib", "n=93"}, {"fib", "m=3"}}) {
        r = run_builtin(name, args);
        BOOST_TEST(r.code == 2, name << "?" << args);
        BOOST_TEST(r.out.empty());
        BOOST_TEST(!r.err.empty());
    }
    BOOST_TEST(query_value("a=1&n=5&n=6", "n").value_or("none") == "5");
    BOOST_TEST(!query_value("an=5", "n").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(task_spool)

BOOST_AUTO_TEST_CASE(prepare_is_idempotent_and_private)
{
    temp_dir dir;
    const std::string spool = dir.path + "/spool";
    std::string error;
    BOOST_REQUIRE_MESSAGE(prepare_spool(spool, error), error);
    BOOST_REQUIRE_MESSAGE(prepare_spool(spool, error), error);
    struct stat st{};
    BOOST_REQUIRE(::stat((spool + "/tmp").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0700u);
    write_file(dir.path + "/file", "x");
    BOOST_TEST(!prepare_spool(dir.path + "/file", error));
    BOOST_TEST(error.find("mkdir " + dir.path + "/file") == 0u, error);
}

BOOST_AUTO_TEST_CASE(ttl_sweep_removes_only_old_spool_files)
{
    temp_dir dir;
    const std::string spool = dir.path;
    std::string error;
    BOOST_REQUIRE(prepare_spool(spool, error));
    for (const char* name : {"a.out", "a.res", "a.run", "a.res.tmp", "keep.txt", "b.out"})
        write_file(spool + "/" + name, "x");
    BOOST_REQUIRE(::mkdir((spool + "/tmp/old-1").c_str(), 0700) == 0);
    BOOST_REQUIRE(::mkdir((spool + "/tmp/old-1/sub").c_str(), 0700) == 0);
    write_file(spool + "/tmp/old-1/sub/f", "x");
    BOOST_REQUIRE(::mkdir((spool + "/tmp/new-1").c_str(), 0700) == 0);
    for (const char* name : {"a.out", "a.res", "a.run", "a.res.tmp", "keep.txt", "tmp/old-1"})
        age(spool + "/" + name, 7200);

    BOOST_TEST(sweep_spool(spool, 3600, std::time(nullptr)) == 5u);
    for (const char* gone : {"a.out", "a.res", "a.run", "a.res.tmp", "tmp/old-1"})
        BOOST_TEST(!exists(spool + "/" + gone), gone);
    for (const char* kept : {"keep.txt", "b.out", "tmp/new-1", "tmp"})
        BOOST_TEST(exists(spool + "/" + kept), kept);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(task_runner, runner_fixture)

BOOST_AUTO_TEST_CASE(body_streams_through_the_command)
{
    start();
    // Larger than the 64 KiB window and a pipe's buffer, so the stream has to flow.
    std::string body;
    for (int i = 0; body.size() < 300 * 1024; ++i)
        body += fmt::format("line {}\n", i);
    const std::string id = new_id();
    write_file(path(id, ".run"), "");
    const auto r = run(id, "echo", "", body);
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ipc::stream_outcome::ok));
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(r.output_bytes == body.size());
    BOOST_TEST(read_file(path(id, ".out")) == body);
    BOOST_TEST(!exists(path(id, ".run")));
    BOOST_TEST(stop() == 0); // SIGTERM: exit 0 between jobs
}

BOOST_AUTO_TEST_CASE(job_sees_args_id_and_private_tmpdir)
{
    start();
    const std::string id = new_id();
    const auto r = run(id, "env", "n=5&x=y");
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ipc::stream_outcome::ok));
    std::istringstream out(read_file(path(id, ".out")));
    std::string args, job, cwd, tmpdir, nofile;
    std::getline(out, args);
    std::getline(out, job);
    std::getline(out, cwd);
    std::getline(out, tmpdir);
    std::getline(out, nofile);
    BOOST_TEST(args == "n=5&x=y");
    BOOST_TEST(job == id);
    BOOST_TEST(cwd.find(spool + "/tmp/" + id + "-") == 0u, cwd);
    BOOST_TEST(tmpdir == cwd);
    BOOST_TEST(nofile == "256");
    BOOST_TEST(!exists(cwd)); // the temp dir went with the job
}

BOOST_AUTO_TEST_CASE(non_zero_exit_fails_and_logs_stderr)
{
    start();
    const std::string id = new_id();
    const auto r = run(id, "fail", "", "ignored body");
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ipc::stream_outcome::failed));
    BOOST_TEST(r.exit_code == 3);
    BOOST_TEST(r.signal == 0);
    BOOST_TEST(ipc::job_status(r.outcome) == 502u);
    // The runner logs after replying, so wait for the lines rather than expecting them now.
    const std::string warn = fmt::format("warn: task fail job {} exit 3: oops\\nline two\\n", id);
    const std::string info = fmt::format("info: task fail job {}: failed (exit 3), ", id);
    BOOST_TEST(wait_for([&] { return read_file(log_path).find(info) != std::string::npos; }), read_file(log_path));
    BOOST_TEST(read_file(log_path).find(warn) != std::string::npos, read_file(log_path));
}

BOOST_AUTO_TEST_CASE(exec_failure_exits_127_with_the_reason)
{
    start();
    const std::string id = new_id();
    const auto r = run(id, "missing");
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ipc::stream_outcome::failed));
    BOOST_TEST(r.exit_code == 127);
    const std::string warn =
        fmt::format("warn: task missing job {} exit 127: exec /nonexistent/rf-cmd: No such file or directory\\n", id);
    BOOST_TEST(wait_for([&] { return read_file(log_path).find(warn) != std::string::npos; }), read_file(log_path));
}

BOOST_AUTO_TEST_CASE(unknown_task_is_answered_and_recorded)
{
    start();
    const std::string id = new_id();
    write_file(path(id, ".run"), "");
    const auto r = run(id, "nope");
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ipc::stream_outcome::unknown_task));
    BOOST_TEST(!exists(path(id, ".run")));
    BOOST_TEST(!exists(path(id, ".out")));
}

BOOST_AUTO_TEST_CASE(malformed_requests_are_dropped)
{
    start();
    sockaddr_un sa{};
    socklen_t len = 0;
    BOOST_REQUIRE(ipc::task_pool_sockaddr(address, sa, len));
    for (const std::uint16_t version : {std::uint16_t(0), std::uint16_t(ipc::task_stream_version + 1)}) {
        const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        BOOST_REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&sa), len) == 0);
        ipc::job_request req;
        req.version = version;
        const std::size_t size = version == 0 ? 10 : sizeof req; // a short request, then a wrong version
        BOOST_REQUIRE(::send(fd, &req, size, MSG_NOSIGNAL) == static_cast<ssize_t>(size));
        if (version == 0)
            ::shutdown(fd, SHUT_WR);
        char byte;
        BOOST_TEST(::recv(fd, &byte, 1, 0) == 0); // closed without a result
        ::close(fd);
    }
    const auto r = run(new_id(), "echo", "", "still serving");
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ipc::stream_outcome::ok));
}

BOOST_AUTO_TEST_CASE(builtins_run_in_the_job_child)
{
    start();
    std::string id = new_id();
    auto r = run(id, "prime", "n=1000000007");
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ipc::stream_outcome::ok));
    BOOST_TEST(read_file(path(id, ".out")) == "1000000007 is prime\n");
    id = new_id();
    r = run(id, "fib", "n=25");
    BOOST_TEST(read_file(path(id, ".out")) == "75025\n");
    id = new_id();
    r = run(id, "fib", "n=abc");
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ipc::stream_outcome::failed));
    BOOST_TEST(r.exit_code == 2);
}

BOOST_AUTO_TEST_CASE(async_job_leaves_its_result_in_the_spool)
{
    start();
    const std::string id = new_id();
    write_file(path(id, ".run"), ""); // the worker's marker, made before it answers 202
    ::close(submit(id, "echo", "", "async body", true));
    BOOST_REQUIRE(wait_for([&] { return exists(path(id, ".res")); }));
    BOOST_TEST(!exists(path(id, ".run")));
    ipc::job_result r;
    const std::string res = read_file(path(id, ".res"));
    BOOST_REQUIRE_EQUAL(res.size(), sizeof r);
    std::memcpy(&r, res.data(), sizeof r);
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ipc::stream_outcome::ok));
    BOOST_TEST(read_file(path(id, ".out")) == "async body");
}

BOOST_AUTO_TEST_CASE(client_leaving_kills_a_synchronous_job)
{
    start();
    const std::string id = new_id();
    const auto begin = steady_clock::now();
    const int fd = submit(id, "hang", "", "");
    BOOST_REQUIRE(wait_for([&] { return read_file(path(id, ".out")).find('\n') != std::string::npos; }));
    ::close(fd);
    BOOST_REQUIRE(wait_for([&] { return exists(path(id, ".res")); }));
    BOOST_TEST((steady_clock::now() - begin < std::chrono::seconds(3)));
    ipc::job_result r;
    std::memcpy(&r, read_file(path(id, ".res")).data(), sizeof r);
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ipc::stream_outcome::error));
    const pid_t pgid = std::atoi(read_file(path(id, ".out")).c_str());
    BOOST_REQUIRE(pgid > 0);
    BOOST_TEST(wait_for([&] { return in_group(pgid, true) == 0; }, 2000));
}

BOOST_AUTO_TEST_CASE(timeout_kills_the_whole_process_group)
{
    settings.timeout_ms = 500;
    start();
    const std::string id = new_id();
    const auto begin = steady_clock::now();
    const auto r = run(id, "hang");
    const auto took = steady_clock::now() - begin;
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ipc::stream_outcome::timed_out));
    BOOST_TEST(ipc::job_status(r.outcome) == 504u);
    BOOST_TEST(r.elapsed_ms >= 500u);
    BOOST_TEST((took >= std::chrono::milliseconds(500) && took < std::chrono::milliseconds(2500)));
    const pid_t pgid = std::atoi(read_file(path(id, ".out")).c_str());
    BOOST_REQUIRE(pgid > 0);
    // Killed and reaped before the result was sent: not even a zombie is left (the runner
    // is the subreaper of the job's orphans).
    BOOST_TEST(in_group(pgid, true) == 0);
}

BOOST_AUTO_TEST_CASE(stop_signal_lets_the_running_job_finish)
{
    start();
    const std::string id = new_id();
    const int fd = submit(id, "slow", "", "");
    BOOST_REQUIRE(wait_for([&] { return read_file(path(id, ".out")) == "started\n"; }));
    ::kill(pid, SIGTERM);
    ipc::job_result r;
    BOOST_REQUIRE(::recv(fd, &r, sizeof r, MSG_WAITALL) == static_cast<ssize_t>(sizeof r));
    ::close(fd);
    BOOST_TEST(static_cast<int>(r.outcome) == static_cast<int>(ipc::stream_outcome::ok));
    BOOST_TEST(read_file(path(id, ".out")) == "started\ndone\n");
    BOOST_TEST(stop(0) == 0); // signal 0: only wait for the exit SIGTERM asked for
}

BOOST_AUTO_TEST_CASE(interrupt_kills_the_running_job_at_once)
{
    start();
    const std::string id = new_id();
    const int fd = submit(id, "hang", "", "");
    BOOST_REQUIRE(wait_for([&] { return read_file(path(id, ".out")).find('\n') != std::string::npos; }));
    const pid_t pgid = std::atoi(read_file(path(id, ".out")).c_str());
    const int status = stop(SIGINT);
    BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 1));
    // The runner is gone, so its orphans' zombies are init's to reap: count the living only.
    BOOST_TEST(wait_for([&] { return in_group(pgid, false) == 0; }, 2000));
    ::close(fd);
}

BOOST_AUTO_TEST_CASE(stats_snapshot_after_every_job)
{
    start();
    run(new_id(), "echo", "", "x");
    run(new_id(), "fail");
    run(new_id(), "nope");
    // A snapshot when each job starts (so it counts as running at once) and one when each
    // ends: 2 + 2 for the two jobs that ran, 1 for the unknown task.
    task_stats_message m;
    for (int i = 0; i < 5; ++i) {
        pollfd p{channel[0], POLLIN, 0};
        BOOST_REQUIRE(::poll(&p, 1, 5000) == 1);
        const ssize_t n = ::recv(channel[0], &m, sizeof m, 0);
        BOOST_REQUIRE(valid_task_stats_message(&m, n));
        if (i == 0) {
            BOOST_TEST(m.stats.started == 1u); // running: started, not yet ended
            BOOST_TEST(m.stats.ok == 0u);
        }
    }
    BOOST_TEST(m.runner == 0u);
    BOOST_TEST(m.pid == pid);
    BOOST_TEST(m.stats.started == 2u);
    BOOST_TEST(m.stats.ok == 1u);
    BOOST_TEST(m.stats.failed == 1u);
    BOOST_TEST(m.stats.unknown_task == 1u);
    BOOST_TEST(m.stats.latency.total() == 2u);
}

BOOST_AUTO_TEST_CASE(startup_sweep_removes_expired_files)
{
    std::string error;
    BOOST_REQUIRE(prepare_spool(spool, error));
    write_file(spool + "/old.out", "x");
    age(spool + "/old.out", 7200);
    write_file(spool + "/new.out", "x");
    start();
    run(new_id(), "nope"); // a reply proves the runner is past its first sweep
    BOOST_TEST(!exists(spool + "/old.out"));
    BOOST_TEST(exists(spool + "/new.out"));
}

BOOST_AUTO_TEST_SUITE_END()
