// Slots and their workers: forking a worker into its slot, reading its channel, reaping it
// and refilling its slot with back-off, and draining it.
//
// A worker's channel is read before its exit is handled, so its last stats snapshot is
// banked (counters survive their worker, gauges do not). A worker that ends unexpectedly
// is replaced after its slot's back-off, unless another worker of the slot still serves;
// one that ends while draining or while the master stops is not replaced.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <span>

#include <fmt/format.h>

#include "ipc/app_spec.hpp"
#include "master/supervise/spawn.hpp"
#include "master/supervise/supervisor.hpp"
#include "net/clock.hpp"
#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::master {

bool supervisor::spawn(unsigned index)
{
    slot& s = slots_[index];
    const std::uint32_t generation = ++s.generation;
    ipc::worker_start start;
    start.slot = index;
    start.generation = generation;
    start.master_pid = getpid();
    start.share = share_;
    start.settings = &opts_.worker;
    start.app = opts_.app;
    for (const auto& fd : opts_.accept == accept_mode::shared ? shared_listeners_ : s.listeners)
        start.listen_fds.push_back(fd.get());
    start.access_log_fd = access_log_.get();
    std::vector<int> keep = start.listen_fds;
    if (access_log_)
        keep.push_back(access_log_.get());
    // Signals stay blocked in the child: the worker reads them from its own signalfd.
    auto child = spawn_child({fmt::format("worker {}", index), std::move(keep)}, [&](int channel_fd) {
        start.channel_fd = channel_fd;
        return ipc::run_worker(start);
    });
    if (!child)
        return false;
    worker_proc w;
    w.pid = child->pid;
    w.slot = index;
    w.generation = generation;
    w.channel = std::move(child->channel);
    w.started_ms = net::monotonic_ms();
    w.upstreams = upstream_names_;
    workers_.push_back(std::move(w));
    if (apps_)
        apps_->worker_started(workers_.back().pid, workers_.back().channel.get());
    return true;
}

void supervisor::read_channel(worker_proc& w)
{
    // The channel also carries task messages, with a job's socket attached: the broker's.
    alignas(ipc::message) char packet[std::max(sizeof(ipc::message), sizeof(ipc::worker_task_message))];
    for (;;) {
        net::unique_fd attached;
        const long n = ipc::recv_with_fd(w.channel.get(), packet, sizeof packet, attached);
        if (n <= 0) {
            // A reset is the worker's end closed with messages unread (it exited before
            // reading a drain order, say): like end-of-file, news of an exit reap() reports.
            if (n != -EAGAIN && n != 0 && n != -EMSGSIZE && n != -ECONNRESET)
                net::log::warn("{}", net::sys_error("recv", fmt::format("channel of worker {}", w.slot), int(-n)));
            return;
        }
        const std::span<const char> bytes(packet, static_cast<std::size_t>(n));
        if (pool_ && pool_->on_worker_packet(bytes, std::move(attached), net::monotonic_ms()))
            continue;
        if (!ipc::valid_message(packet, n))
            return;
        ipc::message m;
        std::memcpy(&m, packet, sizeof m);
        w.last = m.stats;
        w.last_seen_ms = net::monotonic_ms();
        switch (m.type) {
        case ipc::msg_type::ready:
            if (w.state == worker_state::starting) {
                w.state = worker_state::ready;
                on_worker_ready(w);
            }
            if (!announced_ready_ &&
                std::count_if(workers_.begin(), workers_.end(),
                              [](const worker_proc& x) { return x.state == worker_state::ready; }) ==
                    static_cast<long>(slots_.size())) {
                announced_ready_ = true;
                announce_ready();
            }
            break;
        case ipc::msg_type::upstream_drained:
            if (apps_)
                apps_->on_drained(w.pid, m.upstream);
            break;
        case ipc::msg_type::heartbeat:
        default:
            break;
        }
    }
}

// The app's worker-exit hooks run here, in the master, for every exit: a worker killed by
// the watchdog or a signal never gets to run code of its own.
void supervisor::run_exit_hooks(unsigned slot_index, pid_t pid, int status, bool expected)
{
    if (!opts_.app || opts_.app->on_worker_exit.empty())
        return;
    ringfork::worker_exit e;
    e.slot = slot_index;
    e.pid = pid;
    e.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    e.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    e.expected = expected;
    e.reason = describe_exit(status);
    for (const auto& hook : opts_.app->on_worker_exit)
        hook(e);
}

void supervisor::reap()
{
    int status = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pool_ && pool_->on_exit(pid, status, net::monotonic_ms()))
            continue;
        if (apps_ && apps_->on_exit(pid, status, net::monotonic_ms()))
            continue;
        if (pid == successor_) {
            net::log::error("upgrade failed: new master {} ended with {}; {}", pid, describe_exit(status),
                            stopping_ ? "stopping" : "still serving");
            successor_ = 0;
            successor_fd_.reset();
            successor_deadline_ms_ = 0;
            successor_kill_at_ms_ = 0;
            handed_over_ = false;
            continue;
        }
        auto it = std::find_if(workers_.begin(), workers_.end(), [pid](const worker_proc& w) { return w.pid == pid; });
        if (it == workers_.end())
            continue;
        read_channel(*it);
        bank_stats(*it);
        const unsigned index = it->slot;
        const std::uint64_t uptime = net::monotonic_ms() - it->started_ms;
        const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        const bool was_draining = it->state == worker_state::draining;
        const bool was_starting = it->state == worker_state::starting;
        if (apps_)
            apps_->worker_gone(pid, it->last);
        workers_.erase(it);
        run_exit_hooks(index, pid, status, was_draining || stopping_);
        slot& s = slots_[index];
        if (stopping_) {
            if (!clean)
                net::log::warn("worker {} (pid {}) ended with {} while stopping", index, pid, describe_exit(status));
            continue;
        }
        if (was_draining) {
            // Replaced or retired on purpose: nothing to refill.
            if (!clean)
                net::log::warn("worker {} (pid {}) ended with {} while draining", index, pid, describe_exit(status));
            if (s.retiring && !slot_has_server(index, 0))
                on_slot_retired(index);
            continue;
        }
        s.last_exit = describe_exit(status);
        if (was_starting && std::find(rolling_active_.begin(), rolling_active_.end(), index) != rolling_active_.end())
            on_rolling_failure(index);
        if (slot_has_server(index, pid)) {
            net::log::warn("worker {} (pid {}) ended with {}; the slot's other worker keeps serving", index, pid,
                           s.last_exit);
            continue;
        }
        const std::uint64_t delay = s.respawn.next_delay(uptime);
        ++s.restarts;
        ++respawns_;
        net::log::warn("worker {} (pid {}) ended with {} after {:.1f} s; refilling slot in {} ms", index, pid,
                       s.last_exit, static_cast<double>(uptime) / 1000.0, delay);
        if (delay == 0) {
            if (!spawn(index))
                s.respawn_at_ms = net::monotonic_ms() + backoff::max_ms;
        } else {
            s.respawn_at_ms = net::monotonic_ms() + delay;
        }
    }
}

void supervisor::bank_stats(worker_proc& w)
{
    // Counters survive their worker: the last snapshot joins the retired sum; gauges do not.
    ipc::worker_stats last = w.last;
    last.connections_open = 0;
    exited_totals_.merge(last);
    if (w.upstreams)
        add_upstreams(exited_upstreams_, *w.upstreams, w.last);
}

void supervisor::drain(worker_proc& w, ipc::msg_type how)
{
    if (w.state == worker_state::draining)
        return;
    w.state = worker_state::draining;
    w.drain_deadline_ms = net::monotonic_ms() + drain_timeout_ms();
    ipc::message m;
    m.type = how;
    m.slot = w.slot;
    m.generation = w.generation;
    if (ipc::send_message(w.channel.get(), m) != 0)
        ::kill(w.pid, SIGTERM); // the worker reads TERM as a drain too
}

bool supervisor::slot_has_server(unsigned index, pid_t except) const
{
    return std::any_of(workers_.begin(), workers_.end(), [&](const worker_proc& w) {
        return w.slot == index && w.pid != except && w.state != worker_state::draining;
    });
}

} // namespace ringfork::master
