// One instance of a supervised app, seen from the master: its keeper process and the
// application's process group, its loopback port, its output pipe, its readiness and
// health checks, and its stop (TERM, then KILL of the group after a grace). Owns those
// resources; leaves when to start, publish and stop an instance to its app_group.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "master/apps/app_settings.hpp"
#include "master/apps/output_relay.hpp"
#include "master/apps/probe.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

enum class instance_state : std::uint8_t {
    starting, ///< Started; not accepting (or not healthy) yet. Gets no traffic.
    ready,    ///< In its upstream's address set.
    draining, ///< Out of the set; the workers finish what they sent it.
    stopping, ///< TERM sent to its group; KILL follows after --app-stop-timeout.
};

/// What an instance's checks and clocks found, for its app_group to act on.
enum class instance_event : std::uint8_t {
    none,
    ready,      ///< The first check passed and the listener is the instance's own.
    unhealthy,  ///< No check passed for --app-health-timeout.
    not_ready,  ///< Not ready within --app-start-timeout.
    foreign,    ///< Another user's socket listens on its port.
};

[[nodiscard]] const char* state_name(instance_state s) noexcept;

class app_instance {
public:
    /// Starts instance `index` of `spec` on `port` through the spawn routine: a keeper in
    /// its own process group, the application in another, PORT and RINGFORK_APP_INSTANCE in
    /// its environment, its output relayed to the log. Null after one error line.
    [[nodiscard]] static std::unique_ptr<app_instance> start(const app_spec& spec, unsigned index,
                                                             std::uint32_t generation, std::uint16_t port,
                                                             std::uint64_t now_ms);
    app_instance(const app_instance&) = delete;
    app_instance& operator=(const app_instance&) = delete;
    /// A keeper never reaped (the master is leaving in a hurry) is killed with its group.
    ~app_instance();

    /// "web.1": the app's name and the instance's index.
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// "127.0.0.1:PORT", its address in the upstream's set.
    [[nodiscard]] std::string address() const;
    [[nodiscard]] unsigned index() const noexcept { return index_; }
    [[nodiscard]] std::uint32_t generation() const noexcept { return generation_; }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] pid_t keeper() const noexcept { return keeper_; }
    /// The application's pid (and process group), 0 until its keeper reported it.
    [[nodiscard]] pid_t pid() const noexcept { return app_; }
    [[nodiscard]] instance_state state() const noexcept { return state_; }
    [[nodiscard]] std::uint64_t started_ms() const noexcept { return started_ms_; }
    /// Why its last check failed.
    [[nodiscard]] const std::string& last_failure() const noexcept { return check_.why(); }

    /// Appends what to poll: its output pipe, its keeper's channel, a running check.
    void add_pollfds(std::vector<pollfd>& fds) const;
    /// Acts on the poll results of the descriptors add_pollfds appended (in that order).
    [[nodiscard]] instance_event on_poll(std::span<const pollfd> fds, std::uint64_t now_ms);
    /// Starts due checks and acts on clocks: check deadlines, start and health timeouts,
    /// the KILL after a stop.
    [[nodiscard]] instance_event tick(std::uint64_t now_ms);
    /// The earliest time tick() has something to do.
    [[nodiscard]] std::uint64_t next_deadline_ms() const noexcept;

    /// The app_group took it into the set (ready) or out of it (draining).
    void set_state(instance_state s) noexcept { state_ = s; }
    /// Asks the application to stop: TERM to its group (through the keeper), KILL of the
    /// group `grace_ms` later unless it has ended.
    void stop(std::uint64_t now_ms, std::uint64_t grace_ms);
    /// KILL of the application's group now.
    void kill_now() noexcept;
    /// The keeper was reaped with `status`: how the application ended ("exit code 1",
    /// "signal 9 (Killed)"), from the keeper's report when it made one.
    [[nodiscard]] std::string on_reaped(int status);

private:
    app_instance() = default;
    void read_reports();
    [[nodiscard]] instance_event on_check(probe::result r, std::uint64_t now_ms);
    [[nodiscard]] bool listener_is_ours();

    std::string name_;
    std::string health_path_;
    std::uint64_t health_timeout_ms_ = 0;
    std::uint64_t start_timeout_ms_ = 0;
    unsigned index_ = 0;
    std::uint32_t generation_ = 0;
    std::uint16_t port_ = 0;
    pid_t keeper_ = 0;
    pid_t app_ = 0;
    bool reaped_ = false;
    std::optional<int> app_status_; ///< From the keeper's report.
    instance_state state_ = instance_state::starting;
    net::unique_fd channel_;
    std::unique_ptr<output_relay> output_;
    probe check_;
    std::uint64_t started_ms_ = 0;
    std::uint64_t next_check_ms_ = 0;
    std::uint64_t last_pass_ms_ = 0;
    bool failing_ = false;          ///< The last check failed (logged once per spell).
    std::uint64_t kill_at_ms_ = 0;  ///< Stopping: KILL of the group then.
    std::uint64_t stop_grace_ms_ = 0;
    std::uint64_t forget_keeper_ms_ = 0; ///< After the KILL: the keeper too, if still there then.
};

} // namespace ringfork::master
