// The master's side of the task pool: the pool socket, the runner processes it forks and
// refills, their stats, and stopping them. Owns runner supervision; leaves running jobs to
// task_runner and the master loop's polling to master.cpp (through poll_fds/on_readable).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ipc/task_protocol.hpp"
#include "master/supervise/backoff.hpp"
#include "master/tasks/task_runner.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

class task_pool {
public:
    explicit task_pool(task_pool_settings settings) : settings_(std::move(settings)) {}

    /// Prepares the spool and the pool socket. `error` on failure.
    [[nodiscard]] bool open(std::string& error);
    /// Forks every runner. Call after open().
    void start(std::uint64_t now_ms);
    /// The address workers connect to ("@name").
    [[nodiscard]] const std::string& address() const noexcept { return socket_.address; }
    [[nodiscard]] const task_pool_settings& settings() const noexcept { return settings_; }

    /// The runners' stats channels, for the master's poll set.
    [[nodiscard]] std::vector<int> poll_fds() const;
    /// Reads pending stats snapshots from channel `fd`.
    void on_readable(int fd);
    /// A child exited: true if it was a runner (its slot is refilled unless stopping).
    bool on_exit(pid_t pid, int status, std::uint64_t now_ms);
    /// Refills runner slots whose back-off has passed; returns the next due time or 0.
    std::uint64_t tick(std::uint64_t now_ms);
    /// TERM (graceful: finish the current job) or INT (kill jobs) to every runner.
    void stop(bool graceful);
    /// SIGKILL to every runner left.
    void kill_all();
    [[nodiscard]] bool empty() const noexcept;

    /// Counters of every runner, live and retired.
    [[nodiscard]] ipc::task_stats totals() const;
    [[nodiscard]] unsigned running_runners() const noexcept;

private:
    struct runner {
        pid_t pid = 0;
        net::unique_fd channel;
        std::uint64_t started_ms = 0;
        std::uint64_t respawn_at_ms = 0;
        backoff respawn;
        ipc::task_stats last{};
    };

    bool spawn(unsigned index, std::uint64_t now_ms);

    task_pool_settings settings_;
    pool_socket socket_;
    std::vector<runner> runners_;
    ipc::task_stats exited_totals_{};
    bool stopping_ = false;
};

} // namespace ringfork::master
