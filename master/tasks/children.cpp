// The children of this process.
#include "master/tasks/children.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <fstream>
#include <string>

namespace ringfork::master {

namespace {

/// Calls fn(pid) for every pid in the space-separated text.
template <typename F> void for_each_pid(const char* text, std::size_t size, F&& fn)
{
    long v = 0;
    bool digits = false;
    for (std::size_t i = 0; i <= size; ++i) {
        const char c = i < size ? text[i] : ' ';
        if (c >= '0' && c <= '9') {
            v = v * 10 + (c - '0');
            digits = true;
        } else {
            if (digits)
                fn(static_cast<pid_t>(v));
            v = 0;
            digits = false;
        }
    }
}

void reap_exited() noexcept
{
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
}

} // namespace

std::vector<pid_t> list_children()
{
    std::vector<pid_t> out;
    DIR* tasks = ::opendir("/proc/self/task");
    if (tasks == nullptr)
        return out;
    while (const dirent* e = ::readdir(tasks)) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        std::ifstream f(std::string("/proc/self/task/") + e->d_name + "/children");
        const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        for_each_pid(text.data(), text.size(), [&](pid_t p) { out.push_back(p); });
    }
    ::closedir(tasks);
    return out;
}

std::size_t kill_all_children(int budget_ms)
{
    using clock = std::chrono::steady_clock;
    const auto until = clock::now() + std::chrono::milliseconds(budget_ms);
    std::size_t killed = 0;
    for (;;) {
        reap_exited();
        const std::vector<pid_t> kids = list_children();
        if (kids.empty() || clock::now() >= until)
            break;
        for (const pid_t p : kids)
            killed += ::kill(p, SIGKILL) == 0 ? 1 : 0;
        ::poll(nullptr, 0, 1); // let the kills land and their children be reparented here
    }
    reap_exited();
    return killed;
}

std::size_t kill_unknown_children(const std::function<bool(pid_t)>& known)
{
    std::size_t killed = 0;
    for (const pid_t p : list_children())
        if (!known(p) && ::kill(p, SIGKILL) == 0)
            ++killed;
    return killed;
}

void kill_children_from_signal_handler() noexcept
{
    char path[64] = "/proc/self/task/";
    // The calling thread's id, in decimal, then "/children": no formatting library here.
    long tid = ::gettid();
    char digits[24];
    int n = 0;
    do {
        digits[n++] = static_cast<char>('0' + tid % 10);
        tid /= 10;
    } while (tid > 0 && n < 23);
    std::size_t len = 16;
    while (n > 0)
        path[len++] = digits[--n];
    for (const char* s = "/children"; *s; ++s)
        path[len++] = *s;
    path[len] = '\0';
    for (int round = 0; round < 3; ++round) {
        const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return;
        char buf[4096];
        const ssize_t got = ::read(fd, buf, sizeof buf);
        ::close(fd);
        if (got <= 0)
            return;
        for_each_pid(buf, static_cast<std::size_t>(got), [](pid_t p) { ::kill(p, SIGKILL); });
    }
}

} // namespace ringfork::master
