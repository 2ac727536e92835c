// Reloads (HUP, ctl reload), scaling (TTIN/TTOU, ctl scale) and the heartbeat watchdog.
//
// A slot is replaced by starting a new worker beside the old one; when the new worker
// reports READY, every older worker of that slot drains. The same rule refills a slot
// after a crash, so a rolling restart is nothing more than "start one more worker in
// this slot", one slot (or --rolling-batch slots) at a time.
#include <linux/filter.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <ctime>

#include "master/supervise/log_file.hpp"
#include "master/supervise/supervisor.hpp"

#include "ipc/app_spec.hpp"
#include "net/clock.hpp"
#include "net/error.hpp"
#include "net/log.hpp"
#include "net/socket.hpp"

namespace ringfork::master {

namespace {


/// Steers new connections of a reuseport group to its first `keep` sockets only (classic
/// BPF: the flow hash modulo `keep`), so the last socket's queue only drains.
bool steer_to_first(int fd, unsigned keep)
{
    sock_filter code[] = {
        {BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_RXHASH)},
        {BPF_ALU | BPF_MOD | BPF_K, 0, 0, keep},
        {BPF_RET | BPF_A, 0, 0, 0},
    };
    sock_fprog prog{static_cast<unsigned short>(std::size(code)), code};
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) == 0;
}

} // namespace

void supervisor::start_reload()
{
    if (stopping_ || handed_over_)
        return;
    // Re-read the configuration the way start-up read it; a bad one changes nothing.
    std::vector<const char*> args;
    for (std::size_t i = 1; i < argv_.size(); ++i)
        args.push_back(argv_[i].c_str());
    options fresh;
    fresh.app = opts_.app;
    const parse_outcome r = load_options(args, fresh);
    if (!r.error.empty()) {
        net::log::error("reload rejected: {}; keeping the running configuration", r.error);
        return;
    }
    bool same_listeners = fresh.listen.size() == opts_.listen.size() && fresh.accept == opts_.accept;
    for (std::size_t i = 0; same_listeners && i < fresh.listen.size(); ++i)
        same_listeners = fresh.listen[i].to_string() == opts_.listen[i].to_string() || fresh.listen[i].port() == 0;
    if (!same_listeners)
        net::log::warn("reload: listen addresses and accept mode change only with a restart or an upgrade (USR2)");
    if (fresh.user != opts_.user)
        net::log::warn("reload: --user changes only with a restart or an upgrade (USR2)");
    if (fresh.worker.access_log != opts_.worker.access_log ||
        fresh.access_log_follow_symlinks != opts_.access_log_follow_symlinks) {
        net::unique_fd log;
        std::string error;
        if (!fresh.worker.access_log.empty() && !(log = open_access_log(fresh.worker.access_log, fresh.access_log_follow_symlinks, error))) {
            net::log::error("reload rejected: {}; keeping the running configuration", error);
            return;
        }
        access_log_ = std::move(log);
        opts_.access_log_follow_symlinks = fresh.access_log_follow_symlinks;
    }
    // Listeners, control, admin and the task pool stay; worker settings and counts apply.
    const bool pool = opts_.worker.task_pool;
    opts_.worker = fresh.worker;
    opts_.worker.task_pool = pool;
    opts_.shutdown_timeout_s = fresh.shutdown_timeout_s;
    opts_.rolling_batch = fresh.rolling_batch;
    opts_.worker_timeout_s = fresh.worker_timeout_s;
    opts_.worker_start_timeout_s = fresh.worker_start_timeout_s;
    opts_.upgrade_timeout_s = fresh.upgrade_timeout_s;
    note_upstream_names();
    // Apps before workers: the new workers are forked with the apps' current sets.
    opts_.apps = fresh.apps;
    configure_apps();
    if (fresh.defer_accept_s != opts_.defer_accept_s) {
        opts_.defer_accept_s = fresh.defer_accept_s;
        tune_listeners();
    }
    notify("RELOADING=1");
    run_hooks(&ringfork::detail::app_spec::on_reload);
    rolling_queue_.clear();
    for (unsigned i = 0; i < slots_.size(); ++i)
        if (!slots_[i].retiring)
            rolling_queue_.push_back(i);
    rolling_ = true;
    net::log::info("reload: rolling restart of {} slots", rolling_queue_.size());
    advance_rolling();
    if (fresh.workers && fresh.workers != target_workers_)
        scale_to(fresh.workers);
}

void supervisor::run_hooks(const std::vector<std::function<void()>> ringfork::detail::app_spec::*which)
{
    if (opts_.app)
        for (const auto& hook : opts_.app->*which)
            hook();
}

void supervisor::advance_rolling()
{
    while (rolling_active_.size() < opts_.rolling_batch && !rolling_queue_.empty()) {
        const unsigned index = rolling_queue_.front();
        rolling_queue_.pop_front();
        if (index >= slots_.size() || slots_[index].retiring)
            continue;
        if (spawn(index))
            rolling_active_.push_back(index);
        else
            net::log::error("reload: could not start a new worker for slot {}; keeping the old one", index);
    }
    if (rolling_ && rolling_queue_.empty() && rolling_active_.empty()) {
        rolling_ = false;
        ++reloads_;
        net::log::info("reload complete: {} workers serving", target_workers_);
        notify("READY=1");
        run_hooks(&ringfork::detail::app_spec::on_ready);
    }
}

void supervisor::on_worker_ready(worker_proc& w)
{
    // The newest ready worker of a slot serves it; older ones drain.
    for (worker_proc& other : workers_)
        if (other.slot == w.slot && other.generation < w.generation && other.state != worker_state::draining)
            drain(other);
    const auto it = std::find(rolling_active_.begin(), rolling_active_.end(), w.slot);
    if (it != rolling_active_.end()) {
        rolling_active_.erase(it);
        advance_rolling();
    }
}

void supervisor::on_rolling_failure(unsigned index)
{
    net::log::error("reload: the new worker for slot {} failed; the old one keeps serving", index);
    std::erase(rolling_active_, index);
    advance_rolling();
}

void supervisor::scale_to(unsigned count)
{
    if (stopping_ || handed_over_)
        return;
    count = std::clamp(count, 1u, ipc::max_slots);
    target_workers_ = count;
    net::log::info("scale: {} worker{}", count, count == 1 ? "" : "s");
    unsigned live = 0;
    for (const auto& s : slots_)
        live += s.retiring ? 0u : 1u;
    while (live < count) {
        std::string error;
        if (!add_slot(error)) {
            net::log::error("scale: {}", error);
            break;
        }
        ++live;
    }
    while (live > count) {
        retire_last_slot();
        --live;
    }
}

bool supervisor::add_slot(std::string& error)
{
    // A slot being retired is the last one; bring it back instead of adding another.
    for (unsigned i = 0; i < slots_.size(); ++i)
        if (slots_[i].retiring) {
            slots_[i].retiring = false;
            steer_around_retiring();
            if (!slot_has_server(i, 0) && !spawn(i))
                slots_[i].respawn_at_ms = net::monotonic_ms() + backoff::max_ms;
            return true;
        }
    const unsigned index = static_cast<unsigned>(slots_.size());
    slots_.emplace_back();
    if (opts_.accept == accept_mode::reuseport) {
        for (const net::address& addr : opts_.listen) {
            net::unique_fd fd = net::make_listener(addr, {}, error);
            if (!fd) {
                slots_.pop_back();
                return false;
            }
            slots_[index].listeners.push_back(std::move(fd));
        }
        tune_listeners();
    }
    if (!spawn(index)) {
        slots_.pop_back();
        error = "could not start a worker for the new slot";
        return false;
    }
    return true;
}

// Removing a slot loses no queued connection: in reuseport mode its sockets are last in
// each group, so a BPF program keeps new connections on the others while the retiring
// worker accepts what its queue still holds, then drains and exits.
void supervisor::retire_last_slot()
{
    unsigned index = static_cast<unsigned>(slots_.size());
    while (index > 0 && slots_[index - 1].retiring)
        --index;
    if (index <= 1)
        return;
    --index;
    slot& s = slots_[index];
    s.retiring = true;
    s.respawn_at_ms = 0;
    steer_around_retiring();
    bool any = false;
    for (worker_proc& w : workers_)
        if (w.slot == index && w.state != worker_state::draining) {
            drain(w, opts_.accept == accept_mode::reuseport ? ipc::msg_type::retire : ipc::msg_type::drain);
            any = true;
        }
    if (!any)
        on_slot_retired(index);
}

void supervisor::on_slot_retired(unsigned index)
{
    // Only the last slots are ever removed, so indices of the others stay stable.
    while (!slots_.empty() && slots_.back().retiring && !slot_has_server(static_cast<unsigned>(slots_.size() - 1), 0) &&
           std::none_of(workers_.begin(), workers_.end(),
                        [&](const worker_proc& w) { return w.slot == slots_.size() - 1; }))
        slots_.pop_back();
    (void)index;
    steer_around_retiring();
}

// Retiring slots are always the last ones, and slot i's socket is the i-th of each
// reuseport group (sockets join a group in the order they are bound, and only the last
// ones ever leave). So steering "to the first N" is exactly "to every slot still serving",
// recomputed whenever a slot starts or stops retiring; with none retiring the kernel's own
// hash spreads connections over every socket.
void supervisor::steer_around_retiring()
{
    if (opts_.accept != accept_mode::reuseport || slots_.empty())
        return;
    unsigned serving = 0;
    while (serving < slots_.size() && !slots_[serving].retiring)
        ++serving;
    for (const auto& fd : slots_[0].listeners) {
        if (serving == slots_.size()) {
            const int unused = 0;
            if (setsockopt(fd.get(), SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &unused, sizeof unused) != 0 &&
                errno != ENOENT)
                net::log::warn("{}", net::sys_error("setsockopt(SO_DETACH_REUSEPORT_BPF)", "listener", errno));
        } else if (!steer_to_first(fd.get(), serving)) {
            net::log::warn("{}", net::sys_error("setsockopt(SO_ATTACH_REUSEPORT_CBPF)", "listener", errno));
        }
    }
}

void supervisor::check_watchdog(std::uint64_t now)
{
    const auto limit = static_cast<std::uint64_t>(opts_.worker_timeout_s * 1000);
    const auto start_limit = static_cast<std::uint64_t>(opts_.worker_start_timeout_s * 1000);
    for (worker_proc& w : workers_) {
        const std::uint64_t seen = std::max(w.last_seen_ms, w.started_ms);
        if (w.abort_at_ms) {
            if (now >= w.abort_at_ms + 2000) {
                net::log::warn("worker {} (pid {}) survived SIGABRT: SIGKILL", w.slot, w.pid);
                ::kill(w.pid, SIGKILL);
                w.abort_at_ms = now; // once more in 2 s if even that is not reaped yet
            }
            continue;
        }
        // A worker's start hooks may hold READY back (deferred set-up), but not for ever.
        if (w.state == worker_state::starting && now > w.started_ms + start_limit) {
            net::log::error("worker {} (pid {}) not ready within {:.1f} s: SIGKILL", w.slot, w.pid,
                            opts_.worker_start_timeout_s);
            ::kill(w.pid, SIGKILL);
            w.abort_at_ms = now;
            continue;
        }
        if (now > seen + limit) {
            net::log::error("worker {} (pid {}) missed heartbeats for {:.1f} s: SIGABRT", w.slot, w.pid,
                            static_cast<double>(now - seen) / 1000.0);
            ::kill(w.pid, SIGABRT);
            w.abort_at_ms = now;
        }
    }
}

} // namespace ringfork::master
