// The master's apps role: every --app's group of instances, the workers' view of their
// address sets, and the one interface the master's loop calls (descriptors to poll,
// clocks, child exits, the workers' reports, reloads, stops, views). Owns the app groups;
// leaves the loop, the workers and their channels to the supervisor.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ipc/messages.hpp"
#include "master/apps/address_sets.hpp"
#include "master/apps/app_group.hpp"
#include "master/apps/app_settings.hpp"

namespace ringfork::master {

class app_supervisor {
public:
    /// `proxy` is the workers' settings (options::worker.proxy), kept so that each app's
    /// upstream in it always holds the app's current set: a worker forked at any time
    /// starts with it, before it takes any connection.
    app_supervisor(ipc::proxy_settings& proxy, std::uint64_t drain_timeout_ms) noexcept
        : proxy_(&proxy), drain_timeout_ms_(drain_timeout_ms)
    {
    }

    /// Applies `settings` (at start and on every reload, after `proxy` was replaced by the
    /// reload's): new apps start, kept ones get every instance replaced in turn, removed
    /// ones drain and stop; `proxy`'s app upstreams get the current sets.
    void configure(const app_settings& settings, ipc::proxy_settings& proxy, std::uint64_t drain_timeout_ms,
                   std::uint64_t now_ms);
    /// Every app has all its instances ready, or has been starting for its whole start
    /// timeout: the workers may start (a worker's first requests then find addresses).
    [[nodiscard]] bool ready_for_workers(std::uint64_t now_ms) const;
    /// The apps whose instances are not all ready (for the line saying workers start anyway).
    [[nodiscard]] std::string not_ready() const;

    /// A worker was forked with the current settings; `channel_fd` stays open until worker_gone().
    void worker_started(pid_t pid, int channel_fd) { sets_.worker_started(pid, channel_fd, *proxy_); }
    /// A worker exited: it uses no address any more; what it sent each instance is kept
    /// from `last`, its last snapshot.
    void worker_gone(pid_t pid, const ipc::worker_stats& last);
    /// A worker's upstream_drained.
    void on_drained(pid_t pid, const ipc::upstream_note& note) { sets_.on_drained(pid, note); }
    /// `pid` is an app instance's keeper (a child of the master's that is not a stray).
    [[nodiscard]] bool owns(pid_t pid) const noexcept;
    /// `pid` ended with `status`: true when it was an app instance's keeper.
    bool on_exit(pid_t pid, int status, std::uint64_t now_ms);

    void add_pollfds(std::vector<pollfd>& fds);
    /// Acts on the poll results of add_pollfds' descriptors (call it before reaping children).
    void on_poll(std::span<const pollfd> fds, std::uint64_t now_ms);
    /// Starts, checks, drains and stops what is due.
    void tick(std::uint64_t now_ms);
    /// When tick() has something to do next; 0 for nothing.
    [[nodiscard]] std::uint64_t next_deadline_ms() const noexcept;

    /// The master stops: every instance is told to stop (after the workers are gone, for a
    /// graceful stop, so that what they still send to an app is answered).
    void stop(std::uint64_t now_ms, bool graceful);
    /// KILL of every instance's group (the stop deadline).
    void kill_all() noexcept;
    /// No instance is left.
    [[nodiscard]] bool empty() const noexcept;

    /// A live worker's last snapshot.
    struct worker_snapshot {
        pid_t pid = 0;
        const ipc::worker_stats* stats = nullptr;
    };
    /// One row per instance; `live` are the live workers' last snapshots.
    [[nodiscard]] std::vector<app_view> view(std::span<const worker_snapshot> live, std::uint64_t now_ms) const;

private:
    void publish_changes();
    /// `name`'s upstream in the workers' settings, or null.
    [[nodiscard]] ipc::upstream_settings* upstream_of(std::string_view name) noexcept;

    std::vector<std::unique_ptr<app_group>> groups_;
    address_sets sets_;
    ipc::proxy_settings* proxy_;
    std::uint64_t drain_timeout_ms_;
    std::uint64_t started_ms_ = 0;
    std::vector<std::size_t> polled_; ///< Descriptors each group added at the last add_pollfds.
    bool stopping_ = false;
};

} // namespace ringfork::master
