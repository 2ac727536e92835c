// The broker's decisions, kept free of processes and sockets so they are tested alone: the
// bounded queue with per-task concurrency, when a waiting synchronous job has waited too
// long, when a runner is due for replacement, and what a job's ending means.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/task_channel.hpp"
#include "ipc/task_protocol.hpp"

namespace ringfork::master {

using job_key = std::uint64_t;

/// Jobs waiting for a runner, in arrival order.
class job_queue {
public:
    explicit job_queue(std::size_t capacity) : capacity_(capacity) {}

    [[nodiscard]] bool full() const noexcept { return q_.size() >= capacity_; }
    [[nodiscard]] std::size_t size() const noexcept { return q_.size(); }
    [[nodiscard]] bool empty() const noexcept { return q_.empty(); }
    [[nodiscard]] bool contains(job_key key) const noexcept;
    /// Appends a job of task index `task`; `waits`: a synchronous job whose submitter waits.
    /// False when the queue is full.
    bool push(job_key key, int task, bool waits, std::uint64_t now_ms);
    /// Puts a job taken by take() back in front (its runner failed before it started), with
    /// the time it was first queued; the capacity does not apply.
    void put_back(job_key key, int task, bool waits, std::uint64_t since_ms);
    /// Removes a job (cancelled); false if it was not queued.
    bool remove(job_key key);
    /// Takes the oldest job whose task `can_start` allows (a task at its concurrency limit
    /// does not hold up the others).
    [[nodiscard]] std::optional<job_key> take(const std::function<bool(int task)>& can_start);
    /// Takes every synchronous job queued `wait_ms` or more before `now_ms`.
    [[nodiscard]] std::vector<job_key> take_expired(std::uint64_t now_ms, unsigned wait_ms);
    /// When the oldest synchronous job expires (0: none waits).
    [[nodiscard]] std::uint64_t next_expiry(unsigned wait_ms) const noexcept;
    /// Every queued job, oldest first.
    [[nodiscard]] std::vector<job_key> keys() const;

private:
    struct entry {
        job_key key;
        int task;
        bool waits;
        std::uint64_t since_ms;
    };
    std::deque<entry> q_;
    std::size_t capacity_;
};

/// Running jobs per task against each task's concurrency limit (0: none).
class task_counts {
public:
    explicit task_counts(std::vector<unsigned> limits) : limits_(std::move(limits)), running_(limits_.size()) {}
    [[nodiscard]] bool can_start(int task) const noexcept;
    void started(int task) noexcept;
    void ended(int task) noexcept;
    [[nodiscard]] unsigned running(int task) const noexcept;

private:
    std::vector<unsigned> limits_;
    std::vector<unsigned> running_;
};

/// Jobs a new runner takes before it is replaced: max_jobs plus up to a tenth more, drawn
/// from `random`, so runners started together do not all restart together. 0: no limit.
[[nodiscard]] unsigned job_budget(unsigned max_jobs, std::uint32_t random) noexcept;
/// True when a runner that has run `jobs` of its `budget` and now uses `rss_kb` must be
/// replaced before its next job (a 0 budget or max_rss_kb sets no limit).
[[nodiscard]] bool must_retire(unsigned jobs, unsigned budget, std::uint64_t rss_kb,
                               std::uint64_t max_rss_kb) noexcept;

/// Why the master ended a job itself.
enum class kill_reason : std::uint8_t { none, timeout, cancel, shutdown };

/// What is known when a job ends.
struct job_end {
    bool reported = false;          ///< The runner reported it done (otherwise the runner died).
    int exit_code = -1;
    int signal = 0;
    ipc::job_failure failure = ipc::job_failure::none;
    std::string_view text;          ///< The runner's reason for a failure.
    kill_reason killed = kill_reason::none;
    unsigned timeout_ms = 0;        ///< For the reason text.
    ipc::reject_reason rejected = ipc::reject_reason::none; ///< It never ran, for this reason.
};

/// How the job reads from outside.
struct job_verdict {
    ipc::job_outcome outcome = ipc::job_outcome::crashed;
    bool timed_out = false;
    std::string reason;             ///< Empty for a job that ended well.
};

/// The outcome of a job: a rejection first, then the master's own kill (cancelled, timed
/// out), a runner that died (crashed), the runner's failure, a signal (crashed), the exit code.
[[nodiscard]] job_verdict judge(const job_end& e);
/// "ok", "failed", "timed_out", "crashed", "cancelled", "rejected".
[[nodiscard]] std::string_view outcome_name(ipc::job_outcome o) noexcept;

} // namespace ringfork::master
