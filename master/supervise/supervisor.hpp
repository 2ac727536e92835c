// The master process: binds listeners, forks one worker per slot, refills slots, and
// turns signals into stops. Owns supervision and the listeners' lifetime; leaves serving
// to the workers, which it starts through ipc::run_worker.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "ipc/accept_share.hpp"
#include "ipc/messages.hpp"
#include "master/admin/admin_http.hpp"
#include "master/apps/app_supervisor.hpp"
#include "master/supervise/backoff.hpp"
#include "master/admin/control.hpp"
#include "master/config/options.hpp"
#include "master/admin/stats_view.hpp"
#include "master/tasks/broker.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

class supervisor {
public:
    /// `argv` is the whole command line, kept for reloads and binary upgrades.
    supervisor(options opts, std::vector<std::string> argv);
    /// Binds, forks, supervises until stopped; returns the exit code.
    int run();

private:
    /// How long a new master that will not take over gets between SIGTERM and SIGKILL.
    static constexpr std::uint64_t successor_kill_grace_ms = 5'000;

    enum class worker_state : std::uint8_t { starting, ready, draining };

    /// One worker process; a slot can briefly have two (old draining, new starting).
    struct worker_proc {
        pid_t pid = 0;
        unsigned slot = 0;
        std::uint32_t generation = 0;
        worker_state state = worker_state::starting;
        net::unique_fd channel;
        std::uint64_t started_ms = 0;
        std::uint64_t last_seen_ms = 0;   ///< Last message on the channel (the watchdog's clock).
        std::uint64_t abort_at_ms = 0;    ///< Non-zero: SIGABRT sent then; SIGKILL follows.
        std::uint64_t drain_deadline_ms = 0;
        ipc::worker_stats last{}; ///< Last cumulative snapshot.
        /// Its upstreams' names at fork: how its snapshot's per-upstream counters are keyed.
        std::shared_ptr<const std::vector<std::string>> upstreams;
    };

    struct slot {
        std::vector<net::unique_fd> listeners; ///< reuseport mode: this slot's own sockets.
        std::uint32_t generation = 0;
        backoff respawn;
        std::uint64_t respawn_at_ms = 0;       ///< Non-zero: refill due at this time.
        unsigned restarts = 0;
        std::string last_exit;
        bool retiring = false;                 ///< Being removed (TTOU): no refill.
    };

    // Start-up, the loop, signals and stopping (supervisor.cpp).
    [[nodiscard]] bool bind_listeners(std::string& error);
    /// Applies --defer-accept to every listener (at start, after a reload, on scale-up).
    void tune_listeners();
    void on_signal();
    void begin_stop(bool graceful);
    void write_pid_file();
    void remove_pid_file();
    [[nodiscard]] int poll_timeout_ms() const;
    /// Reopens --access-log (USR1) and sends the new file to every worker.
    void forward_reopen_logs();
    /// Says at start who the children run as, and lets them use the task spool.
    void announce_identity();
    void check_deadlines(std::uint64_t now);
    /// Stops a new master that will not take over: SIGTERM now, SIGKILL after
    /// successor_kill_grace_ms if it is still there.
    void stop_successor(std::uint64_t now);

    // Slots and their workers (slots.cpp).
    [[nodiscard]] bool spawn(unsigned slot_index);
    void read_channel(worker_proc& w);
    void reap();
    /// The app's worker-exit hooks, in the master, for every exit of a worker.
    void run_exit_hooks(unsigned slot_index, pid_t pid, int status, bool expected);
    /// Adds an exited worker's last snapshot to the exited totals (counters, not gauges).
    void bank_stats(worker_proc& w);
    void drain(worker_proc& w, ipc::msg_type how = ipc::msg_type::drain);
    [[nodiscard]] bool slot_has_server(unsigned slot_index, pid_t except) const;

    // Supervised apps (apps_role.cpp).
    /// Forks the first worker of every slot; false after a fork failed.
    [[nodiscard]] bool spawn_all();
    /// Longest wait for in-flight work to end: a draining worker's, an old app instance's.
    [[nodiscard]] std::uint64_t drain_timeout_ms() const;
    /// Applies opts_.apps (at start and on reload): the app supervisor, made when first needed.
    void configure_apps();
    /// The apps' clocks, the workers held back for them at start, their stop after the workers.
    void tick_apps(std::uint64_t now);

    // Reloads, scaling and the watchdog (restart.cpp).
    /// The app's hooks named `which` (on_ready, on_reload), in the master.
    void run_hooks(const std::vector<std::function<void()>> ringfork::detail::app_spec::*which);
    void start_reload();
    void advance_rolling();
    void on_worker_ready(worker_proc& w);
    void on_rolling_failure(unsigned slot_index);
    [[nodiscard]] bool add_slot(std::string& error);
    void retire_last_slot();
    void on_slot_retired(unsigned slot_index);
    /// Points the reuseport groups' BPF program at the slots still serving (none retiring:
    /// detached).
    void steer_around_retiring();
    void scale_to(unsigned count);
    void check_watchdog(std::uint64_t now);

    // Binary upgrade and service-manager integration (upgrade.cpp).
    void start_upgrade();
    void on_successor_message();
    void on_predecessor_message();
    void send_handover(int fd, std::uint8_t type);
    [[nodiscard]] bool inherit_listeners(std::string& error);
    /// Socket activation: the listeners systemd passed (LISTEN_FDS), used as shared ones.
    /// False when this process was not given any.
    [[nodiscard]] bool adopt_activated_listeners();
    void announce_ready();
    void notify(std::string_view state) const;
    [[nodiscard]] ipc::worker_stats totals() const;

    // Stats, control socket and admin listener (views.cpp).
    control_reply cmd_reload(std::string_view argument);
    control_reply cmd_upgrade(std::string_view argument);
    control_reply cmd_scale(std::string_view argument);
    [[nodiscard]] bool open_control_and_admin();
    void register_commands();
    /// What every view shows: totals, the master's figures, one row per live worker.
    [[nodiscard]] stats_model model() const;
    [[nodiscard]] admin_response admin_route(std::string_view path) const;
    control_reply cmd_stats(std::string_view argument) const;
    control_reply cmd_workers(std::string_view argument) const;
    control_reply cmd_apps(std::string_view argument) const;
    /// The upstream names of the workers' settings now (after start and every reload).
    void note_upstream_names();
    control_reply cmd_metrics(std::string_view argument) const;
    control_reply cmd_model(std::string_view argument) const;
    control_reply cmd_stop(std::string_view argument);
    control_reply cmd_tasks(std::string_view argument) const;
    control_reply cmd_cancel(std::string_view argument);

    options opts_;
    std::vector<std::string> argv_;
    std::string exe_path_;          ///< The binary on disk, as it was at start (for USR2).
    std::vector<slot> slots_;
    std::vector<net::unique_fd> shared_listeners_;
    net::unique_fd access_log_;     ///< --access-log, opened here; each worker gets a copy.
    std::list<worker_proc> workers_; ///< A list: handlers that start a worker (a READY that advances a reload) keep references to others valid.
    net::unique_fd signal_fd_;
    ipc::accept_share* share_ = nullptr;
    ipc::worker_stats exited_totals_{};  ///< Sum of every exited worker's last snapshot (gauges zeroed).
    std::vector<upstream_view> exited_upstreams_; ///< Their per-upstream counters, by name.
    std::shared_ptr<const std::vector<std::string>> upstream_names_; ///< What new workers are forked with.
    control_server control_;
    admin_server admin_;
    std::uint64_t reloads_ = 0;    ///< Completed rolling restarts (HUP, ctl reload).
    std::uint64_t upgrades_ = 0;   ///< Binary upgrades this master took part in.
    std::uint64_t started_ms_ = 0;
    std::uint64_t kill_at_ms_ = 0;  ///< Non-zero while stopping: SIGKILL what is left then.
    unsigned respawns_ = 0;
    std::unique_ptr<broker> pool_;
    std::uint64_t pool_due_ms_ = 0;  ///< When the task broker next has something to do (0: nothing).
    std::unique_ptr<app_supervisor> apps_; ///< --app: supervised application instances.
    bool workers_held_ = false;            ///< At start: the workers wait for the apps' instances.
    // Rolling restart: slots still to restart, and slots whose new worker is not ready yet.
    std::deque<unsigned> rolling_queue_;
    std::vector<unsigned> rolling_active_;
    bool rolling_ = false;
    // Binary upgrade, old side: the new master's pid and our end of its handover socket.
    pid_t successor_ = 0;
    net::unique_fd successor_fd_;
    std::uint64_t successor_deadline_ms_ = 0;
    std::uint64_t successor_kill_at_ms_ = 0; ///< Non-zero: TERM sent to the successor; SIGKILL then.
    bool handed_over_ = false;      ///< The successor is ready: this master is on its way out.
    // Binary upgrade, new side: the old master's handover socket and its latest totals.
    net::unique_fd predecessor_fd_;
    int inherited_control_fd_ = -1;
    int inherited_admin_fd_ = -1;
    ipc::worker_stats inherited_{};
    std::uint64_t inherited_respawns_ = 0;
    std::uint64_t next_handover_ms_ = 0;
    unsigned target_workers_ = 0;   ///< Slots wanted after scaling completes.
    bool stopping_ = false;
    bool fast_stop_ = false;
    bool announced_ready_ = false;
};

} // namespace ringfork::master
