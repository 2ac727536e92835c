// The master's side of the task pool.
#include "master/tasks/task_pool.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "master/supervise/spawn.hpp"
#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::master {


bool task_pool::open(std::string& error)
{
    if (!prepare_spool(settings_.spool, error))
        return false;
    auto s = make_pool_socket(settings_.queue, error);
    if (!s)
        return false;
    socket_ = std::move(*s);
    return true;
}

void task_pool::start(std::uint64_t now_ms)
{
    runners_.resize(settings_.runners);
    for (unsigned i = 0; i < runners_.size(); ++i)
        if (!spawn(i, now_ms))
            runners_[i].respawn_at_ms = now_ms + backoff::max_ms;
}

bool task_pool::spawn(unsigned index, std::uint64_t now_ms)
{
    const pid_t parent = getpid();
    auto child = spawn_child({fmt::format("task runner {}", index), {socket_.fd.get()}}, [&](int channel_fd) {
        return run_task_runner(socket_.fd.get(), index, parent, settings_, channel_fd);
    });
    if (!child)
        return false;
    runner& r = runners_[index];
    r.pid = child->pid;
    r.channel = std::move(child->channel);
    r.started_ms = now_ms;
    r.respawn_at_ms = 0;
    return true;
}

std::vector<int> task_pool::poll_fds() const
{
    std::vector<int> fds;
    for (const auto& r : runners_)
        if (r.channel)
            fds.push_back(r.channel.get());
    return fds;
}

void task_pool::on_readable(int fd)
{
    for (auto& r : runners_) {
        if (r.channel.get() != fd)
            continue;
        task_stats_message m;
        for (;;) {
            const ssize_t n = ::recv(fd, &m, sizeof m, MSG_DONTWAIT);
            if (n <= 0)
                break;
            if (valid_task_stats_message(&m, n))
                r.last = m.stats;
        }
    }
}

bool task_pool::on_exit(pid_t pid, int status, std::uint64_t now_ms)
{
    for (unsigned i = 0; i < runners_.size(); ++i) {
        runner& r = runners_[i];
        if (r.pid != pid)
            continue;
        on_readable(r.channel.get()); // the last snapshot, if it is still queued
        exited_totals_.merge(r.last);
        r.last = {};
        r.pid = 0;
        r.channel.reset();
        if (stopping_)
            return true;
        const std::uint64_t delay = r.respawn.next_delay(now_ms - r.started_ms);
        net::log::warn("task runner {} (pid {}) ended with {}; refilling in {} ms", i, pid,
                       WIFSIGNALED(status) ? fmt::format("signal {}", WTERMSIG(status))
                                           : fmt::format("exit code {}", WEXITSTATUS(status)),
                       delay);
        if (delay == 0 && spawn(i, now_ms))
            return true;
        r.respawn_at_ms = now_ms + (delay ? delay : backoff::max_ms);
        return true;
    }
    return false;
}

std::uint64_t task_pool::tick(std::uint64_t now_ms)
{
    std::uint64_t next = 0;
    for (unsigned i = 0; i < runners_.size(); ++i) {
        runner& r = runners_[i];
        if (stopping_ || r.pid || !r.respawn_at_ms)
            continue;
        if (now_ms >= r.respawn_at_ms) {
            if (!spawn(i, now_ms))
                r.respawn_at_ms = now_ms + backoff::max_ms;
        }
        if (r.respawn_at_ms && (!next || r.respawn_at_ms < next))
            next = r.respawn_at_ms;
    }
    return next;
}

void task_pool::stop(bool graceful)
{
    stopping_ = true;
    for (const auto& r : runners_)
        if (r.pid)
            ::kill(r.pid, graceful ? SIGTERM : SIGINT);
}

void task_pool::kill_all()
{
    for (const auto& r : runners_)
        if (r.pid)
            ::kill(r.pid, SIGKILL);
}

bool task_pool::empty() const noexcept
{
    for (const auto& r : runners_)
        if (r.pid)
            return false;
    return true;
}

unsigned task_pool::running_runners() const noexcept
{
    unsigned n = 0;
    for (const auto& r : runners_)
        n += r.pid ? 1u : 0u;
    return n;
}

ipc::task_stats task_pool::totals() const
{
    ipc::task_stats t = exited_totals_;
    for (const auto& r : runners_)
        t.merge(r.last);
    return t;
}

} // namespace ringfork::master
