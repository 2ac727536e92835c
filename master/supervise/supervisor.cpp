// The master process: start-up, the poll loop, signals, stopping and deadlines. Slots and
// their workers are in slots.cpp; reloads and scaling in restart.cpp; binary upgrades in
// upgrade.cpp; the control and admin views in views.cpp; apps in apps_role.cpp.
//
// Its loop is a flat list: wait in poll() on the signalfd and every worker channel, then
// act on what is pending: signals, child exits, channel messages, due respawns, the stop
// deadline. Signal handlers do not exist here: signalfd turns signals into reads.
#include "master/supervise/supervisor.hpp"

#include "ipc/app_spec.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <span>

#include "master/config/cpu_count.hpp"
#include "master/config/root_check.hpp"
#include "master/supervise/log_file.hpp"
#include "master/supervise/pid_file.hpp"
#include "master/supervise/spawn.hpp"
#include "net/clock.hpp"
#include "net/error.hpp"
#include "net/log.hpp"
#include "net/socket.hpp"

namespace ringfork::master {

namespace {

sigset_t handled_signals()
{
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD, SIGTTIN, SIGTTOU, SIGWINCH})
        sigaddset(&set, s);
    return set;
}

} // namespace

supervisor::supervisor(options opts, std::vector<std::string> argv) : opts_(std::move(opts)), argv_(std::move(argv))
{
    // The path is read now: after the binary on disk is replaced, /proc/self/exe names the
    // old, deleted file, while the path itself names the new one (what USR2 must run).
    char buf[4096];
    const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0)
        exe_path_.assign(buf, static_cast<std::size_t>(n));
}

bool supervisor::bind_listeners(std::string& error)
{
    const unsigned n = static_cast<unsigned>(slots_.size());
    for (net::address& addr : opts_.listen) {
        // Port 0 and "address in use" are settled by one plain bind first: it fails if
        // anyone holds the address, even another SO_REUSEPORT group, and picks the port.
        {
            net::listen_options plain;
            plain.reuseport = false;
            net::unique_fd probe = net::make_listener(addr, plain, error);
            if (!probe)
                return false;
            if (addr.port() == 0)
                addr = *net::local_address(probe.get());
        }
        if (opts_.accept == accept_mode::shared) {
            net::listen_options shared;
            shared.reuseport = false;
            net::unique_fd fd = net::make_listener(addr, shared, error);
            if (!fd)
                return false;
            shared_listeners_.push_back(std::move(fd));
        } else {
            for (unsigned i = 0; i < n; ++i) {
                net::unique_fd fd = net::make_listener(addr, {}, error);
                if (!fd)
                    return false;
                slots_[i].listeners.push_back(std::move(fd));
            }
        }
    }
    return true;
}

void supervisor::tune_listeners()
{
    std::string error;
    auto tune = [&](const net::unique_fd& fd) {
        if (!net::set_defer_accept(fd.get(), opts_.defer_accept_s, error))
            net::log::warn("{}", error); // connections are then accepted at once: slower, not wrong
    };
    for (const auto& fd : shared_listeners_)
        tune(fd);
    for (const auto& s : slots_)
        for (const auto& fd : s.listeners)
            tune(fd);
}

int supervisor::run()
{
    net::log::set_role("master");
    started_ms_ = net::monotonic_ms();
    const unsigned count = opts_.workers ? opts_.workers : auto_workers();
    slots_.resize(count);

    // Connections are descriptors: take the whole hard limit, as every busy server must.
    if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
            net::log::warn("{}", net::sys_error("setrlimit(RLIMIT_NOFILE)", std::to_string(rl.rlim_max), errno));
    }
    sigset_t set = handled_signals();
    sigprocmask(SIG_BLOCK, &set, nullptr);
    std::signal(SIGPIPE, SIG_IGN);
    signal_fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signal_fd_) {
        net::log::error("{}", net::sys_error("signalfd", "master", errno));
        return 1;
    }
    std::string error;
    if (!opts_.worker.access_log.empty() && !(access_log_ = open_access_log(opts_.worker.access_log, opts_.access_log_follow_symlinks, error))) {
        net::log::error("{}", error);
        return 1;
    }
    if (!opts_.worker.root.empty() && !check_root(opts_.worker.root, error)) {
        net::log::error("{}", error);
        return 1;
    }
    const bool inherited = std::getenv("RINGFORK_UPGRADE") != nullptr;
    if (!inherited && adopt_activated_listeners()) {
        // listeners came from the service manager
    } else if (!(inherited ? inherit_listeners(error) : bind_listeners(error))) {
        net::log::error("{}", error);
        return 1;
    }
    tune_listeners();
    if (opts_.accept == accept_mode::shared && !(share_ = ipc::accept_share::create())) {
        net::log::error("{}", net::sys_error("mmap", "accept share table", errno));
        return 1;
    }
    if (!open_control_and_admin())
        return 1;
    announce_identity();
    if (!opts_.tasks.tasks.empty()) {
        pool_ = std::make_unique<broker>(opts_.tasks);
        if (!pool_->open(error)) {
            net::log::error("task pool: {}", error);
            return 1;
        }
        opts_.worker.task_pool = true;
        pool_->set_known_children([this](pid_t p) {
            return p == successor_ || (apps_ && apps_->owns(p)) ||
                   std::any_of(workers_.begin(), workers_.end(), [p](const worker_proc& w) { return w.pid == p; });
        });
        pool_->start(net::monotonic_ms());
    }
    note_upstream_names();
    configure_apps();
    if (!inherited)
        write_pid_file(); // an upgraded master writes it once its workers are ready
    target_workers_ = count;
    std::string where;
    for (const auto& a : opts_.listen)
        where += (where.empty() ? "" : ", ") + a.to_string();
    net::log::info("listening on {} with {} workers ({} accept), version {}", where, count,
                   opts_.accept == accept_mode::shared ? "shared" : "reuseport", RINGFORK_VERSION);
    // Readiness before traffic: with apps, the workers start once their instances are ready,
    // so that no worker takes a request for an app that has no address yet.
    if (apps_ && !apps_->ready_for_workers(net::monotonic_ms())) {
        workers_held_ = true;
        net::log::info("workers start once the apps' instances are ready");
    } else if (!spawn_all()) {
        return 1;
    }

    std::vector<pollfd> fds;
    for (;;) {
        // A new master that never took over is ours to end too: nothing may outlive us
        // holding the listeners.
        if (stopping_ && workers_.empty() && (!pool_ || pool_->empty()) && !(successor_ && !handed_over_) &&
            (!apps_ || apps_->empty()))
            break;
        fds.clear();
        fds.push_back({signal_fd_.get(), POLLIN, 0});
        for (const worker_proc& w : workers_)
            fds.push_back({w.channel.get(), POLLIN, 0});
        const std::size_t channels_end = fds.size();
        if (pool_)
            pool_->add_pollfds(fds);
        const std::size_t pool_end = fds.size();
        fds.push_back({successor_fd_.get(), POLLIN, 0});
        fds.push_back({predecessor_fd_.get(), POLLIN, 0});
        const std::size_t others_end = fds.size();
        if (apps_)
            apps_->add_pollfds(fds);
        const std::size_t apps_end = fds.size();
        control_.add_pollfds(fds);
        const std::size_t control_end = fds.size();
        admin_.add_pollfds(fds);
        const int rc = ::poll(fds.data(), fds.size(), poll_timeout_ms());
        if (rc < 0 && errno != EINTR) {
            net::log::error("{}", net::sys_error("poll", "master loop", errno));
            continue;
        }
        // Channels first, so a worker's final snapshot is read before its exit is reaped.
        for (std::size_t i = 1; i < channels_end; ++i)
            if (fds[i].revents)
                for (worker_proc& w : workers_)
                    if (w.channel.get() == fds[i].fd)
                        read_channel(w);
        for (std::size_t i = pool_end; i < others_end; ++i) {
            if (!fds[i].revents || fds[i].fd < 0)
                continue;
            if (fds[i].fd == successor_fd_.get())
                on_successor_message();
            else if (fds[i].fd == predecessor_fd_.get())
                on_predecessor_message();
        }
        const std::span<const pollfd> polled(fds);
        if (pool_)
            pool_->handle(polled.subspan(channels_end, pool_end - channels_end), net::monotonic_ms());
        // Before children are reaped: an instance's last output and reports are read first.
        if (apps_)
            apps_->on_poll(polled.subspan(others_end, apps_end - others_end), net::monotonic_ms());
        if (fds[0].revents & POLLIN)
            on_signal();

        const std::uint64_t now = net::monotonic_ms();
        control_.handle(polled.subspan(apps_end, control_end - apps_end), now);
        admin_.handle(polled.subspan(control_end), now);
        check_deadlines(now);
    }
    if (handed_over_)
        control_.release(); // the successor serves the same socket file now
    control_.close();
    admin_.close();
    remove_pid_file();
    if (successor_fd_)
        send_handover(successor_fd_.get(), 1); // final totals for the successor
    net::log::info("stopped after {:.1f} s", static_cast<double>(net::monotonic_ms() - started_ms_) / 1000.0);
    return 0;
}

void supervisor::on_signal()
{
    signalfd_siginfo si;
    while (::read(signal_fd_.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            reap();
            break;
        case SIGTERM:
        case SIGQUIT:
            net::log::info("{}: graceful stop", strsignal(int(si.ssi_signo)));
            begin_stop(true);
            break;
        case SIGINT:
            if (fast_stop_) {
                net::log::info("second SIGINT: killing workers");
                for (const worker_proc& w : workers_)
                    ::kill(w.pid, SIGKILL);
            } else {
                net::log::info("SIGINT: fast stop");
                begin_stop(false);
            }
            break;
        case SIGHUP:
            start_reload();
            break;
        case SIGUSR2:
            start_upgrade();
            break;
        case SIGUSR1:
            forward_reopen_logs();
            break;
        case SIGTTIN:
            scale_to(target_workers_ + 1);
            break;
        case SIGTTOU:
            scale_to(target_workers_ > 1 ? target_workers_ - 1 : 1);
            break;
        default:
            net::log::info("{} ignored", strsignal(int(si.ssi_signo)));
            break;
        }
    }
}

void supervisor::begin_stop(bool graceful)
{
    const std::uint64_t now = net::monotonic_ms();
    if (!stopping_) {
        stopping_ = true;
        notify("STOPPING=1");
        for (auto& s : slots_)
            s.respawn_at_ms = 0;
        workers_held_ = false;
        rolling_queue_.clear();
        rolling_active_.clear();
        if (successor_ && !handed_over_) {
            net::log::warn("stopping during an upgrade: stopping the new master {} too", successor_);
            stop_successor(now);
        }
    }
    if (graceful && !fast_stop_) {
        for (worker_proc& w : workers_)
            drain(w);
        if (pool_)
            pool_->stop(true, now);
        kill_at_ms_ = now + static_cast<std::uint64_t>(opts_.shutdown_timeout_s * 1000);
    } else {
        fast_stop_ = true;
        for (const worker_proc& w : workers_)
            ::kill(w.pid, SIGINT);
        if (apps_)
            apps_->stop(now, false);
        if (pool_)
            pool_->stop(false, now);
        kill_at_ms_ = now + 1000;
    }
}

void supervisor::forward_reopen_logs()
{
    net::log::info("reopening logs");
    if (!opts_.worker.access_log.empty()) {
        std::string error;
        net::unique_fd fresh = open_access_log(opts_.worker.access_log, opts_.access_log_follow_symlinks, error);
        if (fresh)
            access_log_ = std::move(fresh);
        else
            net::log::error("{} (workers keep the old file)", error);
    }
    // Every worker gets the master's current file; one that got it already just flushes.
    ipc::message m;
    m.type = ipc::msg_type::reopen_logs;
    for (const worker_proc& w : workers_)
        if (const int rc = ipc::send_message(w.channel.get(), m, access_log_.get()); rc != 0)
            net::log::warn("{}", net::sys_error("sendmsg(REOPEN_LOGS)", fmt::format("worker {}", w.slot), -rc));
}

void supervisor::announce_identity()
{
    set_children_identity(opts_.run_as);
    const identity& who = opts_.run_as;
    if (::geteuid() != 0)
        net::log::info("children run as {}, like the master", who.describe());
    else if (opts_.user.empty())
        net::log::info("started as root without --user: children run as {}", who.describe());
    else if (!who.unprivileged)
        net::log::warn("children run as {} (--user {}): a bug in a worker runs as root", who.describe(), opts_.user);
    else
        net::log::info("children run as {}", who.describe());
}

// Every timed rule of the master, checked once per loop turn.
void supervisor::check_deadlines(std::uint64_t now)
{
    if (stopping_ && kill_at_ms_ && now >= kill_at_ms_) {
        for (const worker_proc& w : workers_) {
            net::log::warn("worker {} (pid {}) still running at the stop deadline: SIGKILL", w.slot, w.pid);
            ::kill(w.pid, SIGKILL);
        }
        if (pool_)
            pool_->kill_all();
        if (apps_)
            apps_->kill_all();
        kill_at_ms_ = 0;
    }
    for (const worker_proc& w : workers_)
        if (!stopping_ && w.state == worker_state::draining && w.drain_deadline_ms && now >= w.drain_deadline_ms) {
            net::log::warn("worker {} (pid {}) still draining at the shutdown timeout: SIGKILL", w.slot, w.pid);
            ::kill(w.pid, SIGKILL);
        }
    if (!stopping_) {
        for (unsigned i = 0; i < slots_.size(); ++i)
            if (slots_[i].respawn_at_ms && now >= slots_[i].respawn_at_ms) {
                slots_[i].respawn_at_ms = 0;
                if (!slot_has_server(i, 0) && !slots_[i].retiring && !spawn(i))
                    slots_[i].respawn_at_ms = now + backoff::max_ms;
            }
        check_watchdog(now);
    }
    tick_apps(now);
    if (pool_)
        pool_due_ms_ = pool_->tick(now); // while stopping too: it winds the pool down
    if (successor_ && !handed_over_ && successor_deadline_ms_ && now >= successor_deadline_ms_) {
        net::log::error("upgrade failed: new master {} not ready in time; stopping it, still serving", successor_);
        stop_successor(now);
    }
    if (successor_ && successor_kill_at_ms_ && now >= successor_kill_at_ms_) {
        net::log::error("upgrade: new master {} ignored SIGTERM for {} ms: SIGKILL", successor_,
                        successor_kill_grace_ms);
        ::kill(successor_, SIGKILL); // reap() clears the upgrade once it is gone
        successor_kill_at_ms_ = now + successor_kill_grace_ms; // and again, should it still be there
    }
    if (successor_fd_ && now >= next_handover_ms_) {
        send_handover(successor_fd_.get(), 1);
        next_handover_ms_ = now + 250;
    }
}

void supervisor::stop_successor(std::uint64_t now)
{
    successor_deadline_ms_ = 0;
    if (successor_kill_at_ms_)
        return; // already asked
    ::kill(successor_, SIGTERM);
    successor_kill_at_ms_ = now + successor_kill_grace_ms;
}

int supervisor::poll_timeout_ms() const
{
    const std::uint64_t now = net::monotonic_ms();
    std::uint64_t next = ~0ull;
    for (const auto& s : slots_)
        if (s.respawn_at_ms)
            next = std::min(next, s.respawn_at_ms);
    if (kill_at_ms_)
        next = std::min(next, kill_at_ms_);
    if (pool_due_ms_)
        next = std::min(next, pool_due_ms_);
    if (apps_)
        if (const std::uint64_t d = apps_->next_deadline_ms())
            next = std::min(next, d);
    if (successor_ || !workers_.empty())
        next = std::min(next, now + 250); // watchdog, drain deadlines, handover snapshots
    for (std::uint64_t d : {control_.next_deadline_ms(), admin_.next_deadline_ms()})
        if (d)
            next = std::min(next, d);
    if (next == ~0ull)
        return -1;
    return next <= now ? 0 : static_cast<int>(std::min<std::uint64_t>(next - now, 60'000));
}

void supervisor::write_pid_file()
{
    std::string error;
    if (!opts_.pid_file.empty() && !master::write_pid_file(opts_.pid_file, getpid(), error))
        net::log::error("pid file: {}", error);
}

void supervisor::remove_pid_file()
{
    if (!opts_.pid_file.empty())
        master::remove_pid_file(opts_.pid_file, getpid());
}

} // namespace ringfork::master
