// The task broker, in the master: the queue, the table of jobs, the runner processes and
// every decision about a job's life (dispatch, timeout, grace then SIGKILL, cancel, the
// outcome, the state in the spool). Owns jobs and runners; never touches a body or an
// output byte, and never blocks. Leaves the poll loop to the supervisor, which hands it
// its descriptors' readiness, child exits and the clock.
#pragma once

#include <poll.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "ipc/spool.hpp"
#include "ipc/task_channel.hpp"
#include "ipc/task_protocol.hpp"
#include "master/supervise/backoff.hpp"
#include "master/tasks/job_view.hpp"
#include "master/tasks/registry.hpp"
#include "master/tasks/scheduler.hpp"
#include "master/tasks/task_settings.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

class broker {
public:
    explicit broker(task_pool_settings settings);
    ~broker();

    /// Opens the spool and makes the master a child subreaper. False with `error`.
    [[nodiscard]] bool open(std::string& error);
    /// Forks the runners.
    void start(std::uint64_t now_ms);
    [[nodiscard]] const task_pool_settings& settings() const noexcept { return settings_; }
    /// Who else is a known child of the master (workers, a new master): everything else
    /// that turns up as a child is a job's escapee and is killed.
    void set_known_children(std::function<bool(pid_t)> known) { known_children_ = std::move(known); }

    /// Adds the broker's descriptors (runner channels, job sockets) to the master's poll set.
    void add_pollfds(std::vector<pollfd>& fds);
    /// Acts on what poll() found in the entries add_pollfds added.
    void handle(std::span<const pollfd> polled, std::uint64_t now_ms);
    /// A child exited: true if it was a runner.
    bool on_exit(pid_t pid, int status, std::uint64_t now_ms);
    /// Timeouts, refills, the spool sweep. Returns when it next has something to do (0: nothing).
    std::uint64_t tick(std::uint64_t now_ms);

    /// Graceful: no new jobs; queued and running ones finish, then runners exit. Fast: queued
    /// jobs are rejected, running ones killed, runners stopped.
    void stop(bool graceful, std::uint64_t now_ms);
    /// SIGKILL to every runner and job left.
    void kill_all();
    /// No runner process left.
    [[nodiscard]] bool empty() const noexcept;

    /// Cancels job `id`: a queued one never runs; a running one gets SIGTERM, then SIGKILL
    /// after its grace. `what` gets one line saying what happened.
    ipc::cancel_result cancel(std::string_view id, std::uint64_t now_ms, std::string& what);
    /// A packet from a worker's channel: a job to queue or to cancel (true), or not a task
    /// message at all (false: the supervisor's). `fd` is the descriptor attached to it.
    bool on_worker_packet(std::span<const char> packet, net::unique_fd fd, std::uint64_t now_ms);
    /// Queued and running jobs, running first.
    [[nodiscard]] std::vector<job_view> jobs(std::uint64_t now_ms) const;
    /// Counters since this master started.
    [[nodiscard]] const ipc::task_stats& totals() const noexcept { return stats_; }
    [[nodiscard]] unsigned live_runners() const noexcept;
    [[nodiscard]] std::size_t queued() const noexcept { return queue_.size(); }
    [[nodiscard]] std::size_t running() const noexcept { return busy_; }

private:
    enum class phase : std::uint8_t { queued, dispatched, running, delivering };
    enum class runner_state : std::uint8_t { starting, idle, busy, retiring };

    struct job {
        job_key key = 0;
        std::string id;
        int task = -1;
        ipc::job_header header{};
        net::unique_fd socket;           ///< The master's copy of the job socket, if any.
        bool waits = false;              ///< A submitter waits for the result on the socket.
        bool cancel_on_close = false;
        bool client_gone = false;
        phase state = phase::queued;
        int runner = -1;
        pid_t pgid = 0;
        std::uint64_t submitted_ms = 0, submitted_unix_ms = 0;
        std::uint64_t started_ms = 0, started_unix_ms = 0;
        std::uint64_t deadline_ms = 0;   ///< SIGTERM at (timeout from the start).
        std::uint64_t kill_at_ms = 0;    ///< SIGKILL at (after the grace).
        std::uint64_t abandon_at_ms = 0; ///< The runner is killed if it has not answered by then.
        kill_reason killed = kill_reason::none;
        std::string progress;
        bool progress_dirty = false;
        std::uint64_t progress_written_ms = 0;
        std::string pending;             ///< A result still to be written to the socket,
        std::uint64_t give_up_ms = 0;    ///< until then.
    };

    struct runner_proc {
        pid_t pid = 0;
        unsigned index = 0;
        net::unique_fd channel;
        runner_state state = runner_state::starting;
        job_key job = 0;
        unsigned jobs_done = 0;
        unsigned budget = 0;             ///< Jobs before it is replaced (0: no limit).
        std::uint64_t rss_kb = 0;
        std::uint64_t started_ms = 0;
        std::uint64_t abandon_at_ms = 0; ///< A retiring or starting runner is killed then.
        bool expected_exit = false;      ///< Retired or killed on purpose: no back-off.
    };

    // Jobs (broker.cpp).
    void submit(const ipc::job_header& h, net::unique_fd socket, std::uint64_t now_ms);
    void dispatch(std::uint64_t now_ms);
    void on_started(job& j, pid_t pgid, std::uint64_t now_ms);
    [[nodiscard]] task_limits limits_of(const job& j) const noexcept;
    void signal_job(job& j, int sig);
    void kill_job(job& j, kill_reason why, std::uint64_t now_ms);
    void write_state(const job& j, ipc::job_state state, const job_verdict* v, std::uint64_t output_bytes,
                     std::uint32_t elapsed_ms, std::int32_t exit_code, std::int32_t signal);
    void check_jobs(std::uint64_t now_ms);
    [[nodiscard]] job* find(job_key key);
    [[nodiscard]] job* find(std::string_view id);
    [[nodiscard]] bool live(std::string_view id, std::uint64_t now_ms) const;

    // A job's end and its result (broker_outcome.cpp).
    void reject(const ipc::job_header& h, net::unique_fd socket, ipc::reject_reason why);
    void end_job(job_key key, const job_end& e, std::uint64_t output_bytes, std::uint32_t elapsed_ms,
                 std::uint64_t now_ms);
    void on_socket(job& j, short revents, std::uint64_t now_ms);
    void deliver(job& j, std::uint64_t now_ms);

    // Runners (broker_runners.cpp).
    bool spawn(unsigned index, std::uint64_t now_ms);
    void read_runner(runner_proc& r, std::uint64_t now_ms);
    void on_runner_message(runner_proc& r, const ipc::runner_message& m, std::uint64_t now_ms);
    void retire(runner_proc& r, std::uint64_t now_ms);
    void refill(std::uint64_t now_ms);
    void check_runners(std::uint64_t now_ms);
    [[nodiscard]] runner_proc* runner_by_pid(pid_t pid);
    [[nodiscard]] unsigned active_runners() const noexcept;

    task_pool_settings settings_;
    task_registry registry_;
    std::optional<ipc::spool> spool_;
    job_queue queue_;
    task_counts counts_;
    std::map<job_key, job> jobs_;
    std::unordered_map<std::string, job_key> by_id_;
    std::vector<std::pair<std::string, std::uint64_t>> recent_; ///< Ended sync jobs, still being read.
    std::vector<runner_proc> runners_;
    std::function<bool(pid_t)> known_children_;
    ipc::task_stats stats_{};
    backoff respawn_;
    std::uint64_t respawn_at_ms_ = 0;
    std::uint64_t last_crash_ms_ = 0;
    std::uint64_t next_sweep_ms_ = 0;
    std::uint64_t next_stray_check_ms_ = 0;
    job_key next_key_ = 1;
    unsigned next_index_ = 0;
    std::size_t busy_ = 0;
    bool stopping_ = false;
    bool fast_stop_ = false;
    bool announced_ready_ = false;
    /// What each entry add_pollfds added stands for, so handle() can route it.
    struct poll_entry {
        enum class kind : std::uint8_t { runner, job } what;
        std::uint64_t key; ///< Runner pid or job key.
    };
    std::vector<poll_entry> polled_;
};

} // namespace ringfork::master
