// The task broker: runner processes (spawn, messages, recycling, exits).
#include "master/tasks/broker.hpp"

#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include <fmt/format.h>

#include "master/supervise/spawn.hpp"
#include "master/tasks/children.hpp"
#include "master/tasks/runner.hpp"
#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::master {

namespace {

/// A runner that has not said `ready` by then, or has not exited when retired, is killed.
constexpr std::uint64_t runner_bound_ms = 10'000;

std::uint32_t random_u32()
{
    std::uint32_t v = 0;
    if (::getrandom(&v, sizeof v, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof v))
        v = static_cast<std::uint32_t>(::getpid());
    return v;
}

} // namespace

void broker::start(std::uint64_t now_ms)
{
    next_sweep_ms_ = now_ms;
    next_stray_check_ms_ = now_ms + 5000;
    refill(now_ms);
}

unsigned broker::active_runners() const noexcept
{
    return static_cast<unsigned>(std::count_if(runners_.begin(), runners_.end(),
                                               [](const runner_proc& r) { return r.state != runner_state::retiring; }));
}

unsigned broker::live_runners() const noexcept { return static_cast<unsigned>(runners_.size()); }

bool broker::empty() const noexcept { return runners_.empty(); }

broker::runner_proc* broker::runner_by_pid(pid_t pid)
{
    for (runner_proc& r : runners_)
        if (r.pid == pid)
            return &r;
    return nullptr;
}

void broker::refill(std::uint64_t now_ms)
{
    if (stopping_ || now_ms < respawn_at_ms_)
        return;
    while (active_runners() < settings_.runners) {
        // The lowest index no active runner has: logs keep naming runners 0..N-1.
        unsigned index = 0;
        while (std::any_of(runners_.begin(), runners_.end(), [&](const runner_proc& r) {
            return r.index == index && r.state != runner_state::retiring;
        }))
            ++index;
        if (!spawn(index, now_ms)) {
            respawn_at_ms_ = now_ms + backoff::max_ms;
            return;
        }
    }
}

bool broker::spawn(unsigned index, std::uint64_t now_ms)
{
    const pid_t parent = ::getpid();
    auto child = spawn_child({fmt::format("task runner {}", index), {spool_->dir_fd(), spool_->tmp_fd()}},
                             [&](int channel_fd) {
                                 runner_start start;
                                 start.index = index;
                                 start.master_pid = parent;
                                 start.channel_fd = channel_fd;
                                 start.settings = &settings_;
                                 start.registry = &registry_;
                                 start.spool = &*spool_;
                                 return run_task_runner(start);
                             });
    if (!child)
        return false;
    runner_proc r;
    r.pid = child->pid;
    r.index = index;
    r.channel = std::move(child->channel);
    r.started_ms = now_ms;
    r.abandon_at_ms = now_ms + runner_bound_ms;
    r.budget = job_budget(settings_.max_jobs, random_u32());
    runners_.push_back(std::move(r));
    return true;
}

void broker::read_runner(runner_proc& r, std::uint64_t now_ms)
{
    const pid_t pid = r.pid;
    for (int n = 0; n < 64; ++n) {
        runner_proc* rp = runner_by_pid(pid); // messages may retire it or move the vector
        if (rp == nullptr || !rp->channel)
            return;
        ipc::runner_message m;
        net::unique_fd attached;
        const int rc = ipc::recv_runner_message(rp->channel.get(), m, attached);
        if (rc == -EAGAIN)
            return;
        if (rc == 0) {
            rp->channel.reset(); // its exit comes through SIGCHLD
            return;
        }
        if (rc < 0) {
            net::log::warn("{}", net::sys_error("recv", fmt::format("task runner {} channel", rp->index), -rc));
            if (rc != -EPROTO)
                return;
            continue;
        }
        on_runner_message(*rp, m, now_ms);
    }
}

void broker::on_runner_message(runner_proc& r, const ipc::runner_message& m, std::uint64_t now_ms)
{
    job* j = r.job != 0 ? find(r.job) : nullptr;
    if (j != nullptr && ipc::text_of(m.id) != j->id)
        j = nullptr; // about some other job: stale
    switch (m.type) {
    case ipc::runner_msg::ready:
        if (r.state == runner_state::starting) {
            r.state = runner_state::idle;
            r.abandon_at_ms = 0;
            r.rss_kb = m.rss_kb;
        }
        if (!announced_ready_ && static_cast<unsigned>(std::count_if(runners_.begin(), runners_.end(), [](const runner_proc& x) {
                return x.state == runner_state::idle || x.state == runner_state::busy;
            })) >= settings_.runners) {
            announced_ready_ = true;
            net::log::info("task pool ready: {} runners, {} tasks, spool {}", settings_.runners,
                           registry_.entries().size(), settings_.spool);
        }
        break;
    case ipc::runner_msg::started:
        if (j != nullptr && j->state == phase::dispatched)
            on_started(*j, m.pgid, now_ms);
        break;
    case ipc::runner_msg::progress:
        if (j != nullptr) {
            j->progress.assign(ipc::text_of(m.text));
            j->progress_dirty = true;
        }
        break;
    case ipc::runner_msg::done: {
        if (j != nullptr) {
            job_end e;
            e.reported = true;
            e.exit_code = m.exit_code;
            e.signal = m.signal;
            e.failure = m.failure;
            e.text = ipc::text_of(m.text);
            e.killed = j->killed;
            e.timeout_ms = limits_of(*j).timeout_ms;
            end_job(j->key, e, m.output_bytes, m.elapsed_ms, now_ms);
        }
        r.job = 0;
        ++r.jobs_done;
        r.rss_kb = m.rss_kb;
        if (r.state != runner_state::busy)
            break;
        if (must_retire(r.jobs_done, r.budget, r.rss_kb, settings_.max_rss_kb)) {
            net::log::info("task runner {} (pid {}) recycled after {} jobs, {} MiB resident", r.index, r.pid,
                           r.jobs_done, r.rss_kb / 1024);
            retire(r, now_ms);
            refill(now_ms);
        } else {
            r.state = runner_state::idle;
        }
        break;
    }
    case ipc::runner_msg::run_job: break;
    }
}

void broker::retire(runner_proc& r, std::uint64_t now_ms)
{
    r.state = runner_state::retiring;
    r.expected_exit = true;
    r.channel.reset(); // end of its channel: it exits
    r.abandon_at_ms = now_ms + runner_bound_ms;
}

void broker::check_runners(std::uint64_t now_ms)
{
    for (runner_proc& r : runners_) {
        if (r.abandon_at_ms == 0 || now_ms < r.abandon_at_ms)
            continue;
        net::log::warn("task runner {} (pid {}) {}; killing it", r.index, r.pid,
                       r.state == runner_state::starting ? "never became ready" : "did not exit when told");
        r.abandon_at_ms = 0;
        ::kill(r.pid, SIGKILL);
    }
}

bool broker::on_exit(pid_t pid, int status, std::uint64_t now_ms)
{
    runner_proc* r = runner_by_pid(pid);
    if (r == nullptr) {
        // A process that escaped a dead runner and ended: its own children are ours now too.
        if (known_children_ && !known_children_(pid))
            next_stray_check_ms_ = now_ms;
        return false;
    }
    read_runner(*r, now_ms); // a last `done` may still be in its channel
    r = runner_by_pid(pid);
    if (r->job != 0) {
        if (job* j = find(r->job)) {
            job_end e;
            e.killed = j->killed;
            e.timeout_ms = limits_of(*j).timeout_ms;
            // A function job that crashed its runner: the signal is the job's own.
            if (e.killed == kill_reason::none && WIFSIGNALED(status))
                e.signal = WTERMSIG(status);
            end_job(j->key, e, 0, 0, now_ms);
        }
    }
    r = runner_by_pid(pid);
    const bool expected = r->expected_exit || stopping_;
    const unsigned index = r->index;
    const std::uint64_t uptime = now_ms - r->started_ms;
    runners_.erase(runners_.begin() + (r - runners_.data()));
    if (!expected) {
        const std::uint64_t delay = respawn_.next_delay(uptime);
        respawn_at_ms_ = now_ms + delay;
        net::log::warn("task runner {} (pid {}) ended with {}; refilling in {} ms", index, pid, describe_exit(status),
                       delay);
    }
    // Whatever escaped that runner's jobs is the master's child now, or will be once the
    // job processes that die with the runner are gone: look now and again soon.
    if (known_children_)
        (void)kill_unknown_children([&](pid_t p) { return known_children_(p) || runner_by_pid(p); });
    next_stray_check_ms_ = now_ms + 100;
    refill(now_ms);
    dispatch(now_ms);
    return true;
}

} // namespace ringfork::master
