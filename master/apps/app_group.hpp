// One supervised app: its instances, and the rule that keeps each index 0..N-1 served by a
// ready instance of the current configuration. An instance that ends or fails its checks
// is replaced with back-off; on reload each index in turn gets a new instance, and the old
// one leaves the address set only once the new one is ready, then stops once every worker
// has reported it drained (or the drain bound passed). Owns its instances and its
// upstream's address set; leaves telling the workers to address_sets and reaping to the
// master.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "master/admin/stats_view.hpp"
#include "master/apps/address_sets.hpp"
#include "master/apps/app_settings.hpp"
#include "master/apps/instance.hpp"
#include "master/supervise/backoff.hpp"

namespace ringfork::master {

/// What every app shares: the workers' view of the sets, and the drain bound.
struct app_context {
    address_sets& sets;
    std::uint64_t drain_timeout_ms = 30000; ///< Longest wait for the workers' drained reports.
    std::span<const std::uint16_t> ports_in_use; ///< Every app's instances' ports, and recent ones.
};

class app_group {
public:
    explicit app_group(app_spec spec) : spec_(std::move(spec)) {}

    [[nodiscard]] const std::string& name() const noexcept { return spec_.name; }
    [[nodiscard]] const app_spec& spec() const noexcept { return spec_; }
    /// A reload: `spec` from now on, and every instance replaced in turn.
    void reconfigure(app_spec spec, std::uint64_t now_ms);
    /// The app is no longer configured: every instance drains and stops.
    void retire(std::uint64_t now_ms);
    /// The master stops: every instance stops now (TERM, then KILL after the stop timeout,
    /// or after a second when not `graceful`).
    void stop(std::uint64_t now_ms, bool graceful);
    /// KILL of every instance's group.
    void kill_all() noexcept;
    /// No instance left.
    [[nodiscard]] bool empty() const noexcept { return members_.empty(); }
    /// Retired or stopped, and empty: the group can go.
    [[nodiscard]] bool finished() const noexcept { return (retired_ || stopping_) && members_.empty(); }

    void add_pollfds(std::vector<pollfd>& fds) const;
    /// Acts on the poll results of add_pollfds' descriptors (in that order).
    void on_poll(std::span<const pollfd> fds, std::uint64_t now_ms);
    /// Starts what is due (refills, the next replacement), acts on instances' clocks and on
    /// drains that ended.
    void tick(app_context& ctx, std::uint64_t now_ms);
    /// When tick() has something to do next; 0 for nothing.
    [[nodiscard]] std::uint64_t next_deadline_ms() const noexcept;
    /// `pid` is one of this app's keepers.
    [[nodiscard]] bool owns(pid_t pid) const noexcept;
    /// `pid` ended with `status`: true when it was one of this app's keepers.
    bool on_exit(pid_t pid, int status, std::uint64_t now_ms);

    /// The ready instances' addresses, in index order: the upstream's address set.
    [[nodiscard]] std::vector<std::string> addresses() const;
    /// Every instance's address, whatever its state.
    [[nodiscard]] std::vector<std::string> all_addresses() const;
    /// The set changed since the last call (ready, gone, drained out).
    [[nodiscard]] bool take_changed() noexcept { return std::exchange(changed_, false); }
    /// Every index has a ready instance.
    [[nodiscard]] bool all_ready() const noexcept;
    /// Ports of its instances, and of ones ended lately (not to be handed out again yet).
    void ports(std::vector<std::uint16_t>& out, std::uint64_t now_ms) const;
    /// Adds one row per instance; `live(address)` is what live workers sent to an address.
    void view(std::vector<app_view>& out, std::uint64_t now_ms,
              const std::function<std::uint64_t(std::string_view address)>& live) const;
    /// Keeps `requests` an exited worker had sent to the instance at `address`.
    void bank_requests(std::string_view address, std::uint64_t requests) noexcept;

private:
    struct member {
        std::unique_ptr<app_instance> in;
        std::uint64_t ready_ms = 0;
        std::uint64_t drain_until_ms = 0; ///< Draining: stop it then at the latest.
        std::uint64_t banked_requests = 0; ///< Sent to it by workers that have exited.
    };
    /// Per index: back-off and history.
    struct slot {
        backoff respawn;
        std::uint64_t start_at_ms = 0; ///< No new instance before this.
        unsigned restarts = 0;
        std::string last_exit;
    };
    struct recent_port {
        std::uint16_t port = 0;
        std::uint64_t until_ms = 0;
    };

    void spawn(unsigned index, app_context& ctx, std::uint64_t now_ms);
    void on_event(member& m, instance_event e, std::uint64_t now_ms);
    void on_ready(member& m, std::uint64_t now_ms);
    /// Out of the set; stopped once no worker uses it any more.
    void take_out(member& m);
    void fail(member& m, std::uint64_t now_ms);
    void check_drains(app_context& ctx, std::uint64_t now_ms);
    void start_due(app_context& ctx, std::uint64_t now_ms);
    /// An index has an instance that serves or is about to (starting or ready).
    [[nodiscard]] bool covered(unsigned index) const noexcept;
    /// A replacement runs: a new instance starting beside an old one, or an old one draining.
    [[nodiscard]] bool replacing() const noexcept;
    slot& at(unsigned index);

    app_spec spec_;
    std::uint32_t generation_ = 1;
    std::vector<std::unique_ptr<member>> members_;
    std::vector<slot> slots_;
    std::deque<recent_port> recent_ports_;
    bool changed_ = false;
    bool rolling_ = false;   ///< A reload's replacements are under way.
    bool retired_ = false;
    bool stopping_ = false;
};

} // namespace ringfork::master
