// The address sets of the apps' upstreams as the workers know them: which worker was told
// which addresses (in its settings at fork, or by upstream_set since), sending every change
// to every worker (again on a later turn when a channel is full), and which workers still
// owe an upstream_drained for an address taken out. Owns that bookkeeping; leaves what the
// addresses are to the app groups and the channels themselves to the supervisor.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "ipc/messages.hpp"
#include "ipc/upstream_config.hpp"

namespace ringfork::master {

class address_sets {
public:
    /// A worker was forked with `proxy` as its settings: its upstreams' names (their order
    /// is how its messages number them) and the addresses it starts with. `channel_fd`
    /// stays open until worker_gone().
    void worker_started(pid_t pid, int channel_fd, const ipc::proxy_settings& proxy);
    /// The worker exited: it sends nothing anywhere any more.
    void worker_gone(pid_t pid);
    /// The current set of upstream `name`: told to every worker whose settings have it.
    void publish(std::string_view name, const std::vector<std::string>& addresses);
    /// A worker's upstream_drained: it has nothing in flight to that address any more.
    void on_drained(pid_t pid, const ipc::upstream_note& note);
    /// Workers that may still have requests in flight to `address` of `name`: told it,
    /// and not reported it drained since.
    [[nodiscard]] std::vector<pid_t> users(std::string_view name, std::string_view address) const;
    /// The name of upstream `index` in worker `pid`'s settings; empty when unknown.
    [[nodiscard]] std::string_view upstream_name(pid_t pid, std::uint32_t index) const noexcept;
    /// Sends the sets a full channel refused earlier.
    void retry();
    /// Some worker still waits for a set.
    [[nodiscard]] bool retry_pending() const noexcept;

private:
    struct known_address {
        std::string upstream;
        std::string address;
    };
    struct worker {
        pid_t pid = 0;
        int channel = -1;
        std::vector<std::string> upstreams; ///< Names, in the worker's order.
        std::vector<known_address> known;   ///< Told, not drained.
        std::vector<std::string> pending;   ///< Upstreams whose latest set it has not got.
    };
    struct current_set {
        std::string upstream;
        std::vector<std::string> addresses;
    };

    /// Sends upstream `name`'s current set to `w`; false when the channel was full.
    bool send(worker& w, std::string_view name);
    [[nodiscard]] const current_set* find(std::string_view name) const noexcept;

    std::vector<worker> workers_;
    std::vector<current_set> sets_;
};

} // namespace ringfork::master
