// Starting a child process.
#include "master/supervise/spawn.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::master {

namespace {

/// Who children run as: the master's own identity until set_children_identity.
identity& children_identity()
{
    static identity who = [] {
        identity same;
        same.unprivileged = false;
        return same;
    }();
    return who;
}

} // namespace

void set_children_identity(identity who)
{
    children_identity() = std::move(who);
}

bool enter_own_group(pid_t parent) noexcept
{
    // The parent's handlers and blocked signals are not the program's business.
    for (int sig = 1; sig < NSIG; ++sig)
        if (sig != SIGKILL && sig != SIGSTOP)
            ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    return ::getppid() == parent;
}

std::string describe_exit(int status)
{
    if (WIFEXITED(status))
        return fmt::format("exit code {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return fmt::format("signal {} ({})", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return fmt::format("status {}", status);
}

void close_fds_except(std::vector<int> keep) noexcept
{
    std::sort(keep.begin(), keep.end());
    unsigned from = 3;
    for (int fd : keep) {
        if (fd < 3)
            continue;
        if (unsigned(fd) > from)
            close_range(from, unsigned(fd) - 1, 0);
        from = unsigned(fd) + 1;
    }
    close_range(from, ~0u, 0);
}

std::optional<spawned_child> spawn_child(const spawn_request& request, const child_main& run)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        net::log::error("{}", net::sys_error("socketpair", request.name, errno));
        return std::nullopt;
    }
    std::vector<int> keep = request.keep;
    keep.push_back(sv[1]);
    const pid_t pid = fork();
    if (pid < 0) {
        net::log::error("{}", net::sys_error("fork", request.name, errno));
        ::close(sv[0]);
        ::close(sv[1]);
        return std::nullopt;
    }
    if (pid == 0) {
        close_fds_except(std::move(keep));
        std::string error;
        if (!become(children_identity(), request.name, error)) {
            net::log::error("{}", error);
            _exit(exit_identity_failed);
        }
        _exit(run(sv[1]));
    }
    ::close(sv[1]);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    spawned_child child;
    child.pid = pid;
    child.channel.reset(sv[0]);
    return child;
}

} // namespace ringfork::master
