// The master process: binds listeners, forks one worker per slot, refills slots, and
// turns signals into stops. Owns supervision and the listeners' lifetime; leaves serving
// to the workers, which it starts through ipc::run_worker.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ipc/accept_share.hpp"
#include "ipc/messages.hpp"
#include "master/admin_http.hpp"
#include "master/backoff.hpp"
#include "master/control.hpp"
#include "master/options.hpp"
#include "master/stats_view.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

class master {
public:
    explicit master(options opts);
    /// Binds, forks, supervises until stopped; returns the exit code.
    int run();

private:
    enum class worker_state : std::uint8_t { starting, ready, draining };

    /// One worker process; a slot can briefly have two (old draining, new starting).
    struct worker {
        pid_t pid = 0;
        unsigned slot = 0;
        std::uint32_t generation = 0;
        worker_state state = worker_state::starting;
        net::unique_fd channel;
        std::uint64_t started_ms = 0;
        ipc::worker_stats last{}; ///< Last cumulative snapshot.
    };

    struct slot {
        std::vector<net::unique_fd> listeners; ///< reuseport mode: this slot's own sockets.
        std::uint32_t generation = 0;
        backoff respawn;
        std::uint64_t respawn_at_ms = 0;       ///< Non-zero: refill due at this time.
        unsigned restarts = 0;
        std::string last_exit;
    };

    [[nodiscard]] bool bind_listeners(std::string& error);
    [[nodiscard]] bool spawn(unsigned slot_index);
    void on_signal();
    void reap();
    void read_channel(worker& w);
    void retire(worker& w);
    void begin_stop(bool graceful);
    void write_pid_file();
    void remove_pid_file();
    [[nodiscard]] int poll_timeout_ms() const;

    // Stats, control socket and admin listener (master/master_stats.cpp).
    [[nodiscard]] bool open_control_and_admin();
    void register_commands();
    /// What every view shows: totals, the master's figures, one row per live worker.
    [[nodiscard]] stats_model model() const;
    [[nodiscard]] admin_response admin_route(std::string_view path) const;
    control_reply cmd_stats(std::string_view argument) const;
    control_reply cmd_workers(std::string_view argument) const;
    control_reply cmd_metrics(std::string_view argument) const;
    control_reply cmd_model(std::string_view argument) const;
    control_reply cmd_stop(std::string_view argument);
    control_reply cmd_not_yet(std::string_view what) const;

    options opts_;
    std::vector<slot> slots_;
    std::vector<net::unique_fd> shared_listeners_;
    std::vector<worker> workers_;
    net::unique_fd signal_fd_;
    ipc::accept_share* share_ = nullptr;
    ipc::worker_stats retired_{};  ///< Sum of every exited worker's last snapshot (gauges zeroed).
    control_server control_;
    admin_server admin_;
    std::uint64_t reloads_ = 0;    ///< Completed rolling restarts (HUP, ctl reload).
    std::uint64_t upgrades_ = 0;   ///< Binary upgrades this master took part in.
    std::uint64_t started_ms_ = 0;
    std::uint64_t kill_at_ms_ = 0;  ///< Non-zero while stopping: SIGKILL what is left then.
    unsigned respawns_ = 0;
    bool stopping_ = false;
    bool fast_stop_ = false;
    bool announced_ready_ = false;
};

/// Closes every descriptor of this process except 0-2 and `keep`.
void close_fds_except(std::vector<int> keep) noexcept;

} // namespace ringfork::master
