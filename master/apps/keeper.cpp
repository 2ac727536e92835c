// An app instance's keeper process.
//
// Two process groups per instance: the keeper leads its own, so that a signal to the
// master's group (Ctrl-C) is the master's to act on, and the application leads another,
// which the master signals to stop it and which the keeper kills when the application or
// the master ends.
#include "master/apps/keeper.hpp"

#include "master/supervise/spawn.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fstream>
#include <string_view>

extern char** environ;

namespace ringfork::master {

namespace {

/// Rounds of killing what the keeper adopted, each waiting up to 100 ms for deaths.
constexpr int cleanup_rounds = 50;

/// One line on the output pipe (the master logs it under the instance's name).
void say(const char* call, const char* object, int err) noexcept
{
    const char* text = std::strerror(err);
    for (const char* s : {call, " ", object, ": ", text, "\n"})
        if (::write(2, s, std::strlen(s)) < 0)
            break;
}

void report(int channel, keeper_report::kind what, pid_t pid, int status) noexcept
{
    keeper_report r;
    r.what = what;
    r.pid = pid;
    r.status = status;
    (void)::send(channel, &r, sizeof r, MSG_NOSIGNAL); // a master that is gone reads nothing anyway
}

/// The keeper's children now: the application, and whatever of its tree it adopted.
std::vector<pid_t> children()
{
    std::vector<pid_t> out;
    const pid_t self = ::getpid();
    std::ifstream f("/proc/" + std::to_string(self) + "/task/" + std::to_string(self) + "/children");
    for (long pid = 0; f >> pid;)
        out.push_back(static_cast<pid_t>(pid));
    return out;
}

/// Reaps every child that ended; returns the wait status of `app` when it was one of them.
bool reap(pid_t app, int& status) noexcept
{
    bool app_ended = false;
    int st = 0;
    for (pid_t pid; (pid = ::waitpid(-1, &st, WNOHANG)) > 0;)
        if (pid == app) {
            status = st;
            app_ended = true;
        }
    return app_ended;
}

/// Kills every child left, round by round: killing one orphans its own children, who come
/// to the keeper (a subreaper) and are killed in the next round.
void kill_everything_left(const sigset_t& waited) noexcept
{
    int ignored = 0;
    for (int round = 0; round < cleanup_rounds; ++round) {
        (void)reap(0, ignored);
        const std::vector<pid_t> left = children();
        if (left.empty())
            return;
        for (pid_t pid : left)
            ::kill(pid, SIGKILL);
        const timespec tick{0, 100'000'000};
        (void)::sigtimedwait(&waited, nullptr, &tick);
    }
}

/// The environment the application gets: the master's, with PORT and RINGFORK_APP_INSTANCE.
std::vector<std::string> app_environment(const keeper_plan& p)
{
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
        const std::string_view entry(*e);
        if (!entry.starts_with("PORT=") && !entry.starts_with("RINGFORK_APP_INSTANCE="))
            env.emplace_back(entry);
    }
    env.push_back("PORT=" + std::to_string(p.port));
    env.push_back("RINGFORK_APP_INSTANCE=" + std::to_string(p.index));
    return env;
}

[[noreturn]] void exec_app(pid_t keeper, char* const* argv, char* const* envp) noexcept
{
    if (!enter_own_group(keeper))
        ::_exit(127);
    ::execvpe(argv[0], argv, envp);
    say("exec", argv[0], errno);
    ::_exit(127);
}

} // namespace

int run_keeper(const keeper_plan& p, int channel_fd)
{
    ::prctl(PR_SET_NAME, "rf-app");
    ::setpgid(0, 0);
    // After spawn_child changed the identity (which clears it), so the master's death
    // reaches the keeper; and the race where the master died before this took effect.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != p.master)
        return 1;
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    sigset_t waited;
    sigemptyset(&waited);
    for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP})
        sigaddset(&waited, s);
    ::sigprocmask(SIG_BLOCK, &waited, nullptr);

    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || ::dup2(null, 0) < 0 || ::dup2(p.output_fd, 1) < 0 || ::dup2(p.output_fd, 2) < 0) {
        say("dup2", "stdio", errno);
        return 1;
    }
    for (int fd : {null, p.output_fd})
        if (fd > 2)
            ::close(fd);

    std::vector<std::string> env = app_environment(p);
    std::vector<char*> argv, envp;
    for (const std::string& a : p.argv)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (std::string& e : env)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    const pid_t keeper = ::getpid();
    const pid_t app = ::fork();
    if (app == 0)
        exec_app(keeper, argv.data(), envp.data());
    if (app < 0) {
        say("fork", p.name.c_str(), errno);
        return 1;
    }
    ::setpgid(app, app); // also done by the child: whichever runs first, the group exists before either goes on
    report(channel_fd, keeper_report::kind::started, app, 0);

    int status = 0;
    bool ended = false;
    bool orphaned = false;
    while (!ended && !orphaned) {
        const timespec second{1, 0};
        if (::sigtimedwait(&waited, nullptr, &second) == SIGTERM)
            ::kill(-app, SIGTERM); // the master's stop request, for the whole group
        ended = reap(app, status);
        orphaned = ::getppid() != p.master;
    }
    ::kill(-app, SIGKILL);
    kill_everything_left(waited);
    if (ended)
        report(channel_fd, keeper_report::kind::exited, app, status);
    return 0;
}

} // namespace ringfork::master
