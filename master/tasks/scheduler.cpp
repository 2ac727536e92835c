// The broker's decisions.
#include "master/tasks/scheduler.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace ringfork::master {

bool job_queue::contains(job_key key) const noexcept
{
    return std::any_of(q_.begin(), q_.end(), [&](const entry& e) { return e.key == key; });
}

bool job_queue::push(job_key key, int task, bool waits, std::uint64_t now_ms)
{
    if (full())
        return false;
    q_.push_back({key, task, waits, now_ms});
    return true;
}

bool job_queue::remove(job_key key)
{
    const auto it = std::find_if(q_.begin(), q_.end(), [&](const entry& e) { return e.key == key; });
    if (it == q_.end())
        return false;
    q_.erase(it);
    return true;
}

void job_queue::put_back(job_key key, int task, bool waits, std::uint64_t since_ms)
{
    q_.push_front({key, task, waits, since_ms});
}

std::optional<job_key> job_queue::take(const std::function<bool(int task)>& can_start)
{
    for (auto it = q_.begin(); it != q_.end(); ++it) {
        if (!can_start(it->task))
            continue;
        const job_key key = it->key;
        q_.erase(it);
        return key;
    }
    return std::nullopt;
}

std::vector<job_key> job_queue::take_expired(std::uint64_t now_ms, unsigned wait_ms)
{
    std::vector<job_key> out;
    for (auto it = q_.begin(); it != q_.end();) {
        if (it->waits && it->since_ms + wait_ms <= now_ms) {
            out.push_back(it->key);
            it = q_.erase(it);
        } else {
            ++it;
        }
    }
    return out;
}

std::uint64_t job_queue::next_expiry(unsigned wait_ms) const noexcept
{
    // Arrival order is time order, so the first waiting job expires first.
    for (const entry& e : q_)
        if (e.waits)
            return e.since_ms + wait_ms;
    return 0;
}

std::vector<job_key> job_queue::keys() const
{
    std::vector<job_key> out;
    for (const entry& e : q_)
        out.push_back(e.key);
    return out;
}

bool task_counts::can_start(int task) const noexcept
{
    if (task < 0 || static_cast<std::size_t>(task) >= limits_.size())
        return true;
    const auto i = static_cast<std::size_t>(task);
    return limits_[i] == 0 || running_[i] < limits_[i];
}

void task_counts::started(int task) noexcept
{
    if (task >= 0 && static_cast<std::size_t>(task) < running_.size())
        ++running_[static_cast<std::size_t>(task)];
}

void task_counts::ended(int task) noexcept
{
    if (task >= 0 && static_cast<std::size_t>(task) < running_.size() && running_[static_cast<std::size_t>(task)] > 0)
        --running_[static_cast<std::size_t>(task)];
}

unsigned task_counts::running(int task) const noexcept
{
    return task >= 0 && static_cast<std::size_t>(task) < running_.size() ? running_[static_cast<std::size_t>(task)] : 0;
}

unsigned job_budget(unsigned max_jobs, std::uint32_t random) noexcept
{
    if (max_jobs == 0)
        return 0;
    return max_jobs + random % (max_jobs / 10 + 1);
}

bool must_retire(unsigned jobs, unsigned budget, std::uint64_t rss_kb, std::uint64_t max_rss_kb) noexcept
{
    return (budget != 0 && jobs >= budget) || (max_rss_kb != 0 && rss_kb > max_rss_kb);
}

std::string_view outcome_name(ipc::job_outcome o) noexcept
{
    switch (o) {
    case ipc::job_outcome::ok: return "ok";
    case ipc::job_outcome::failed: return "failed";
    case ipc::job_outcome::timed_out: return "timed_out";
    case ipc::job_outcome::crashed: return "crashed";
    case ipc::job_outcome::cancelled: return "cancelled";
    case ipc::job_outcome::rejected: return "rejected";
    }
    return "unknown";
}

job_verdict judge(const job_end& e)
{
    job_verdict v;
    if (e.rejected != ipc::reject_reason::none) {
        v.outcome = ipc::job_outcome::rejected;
        v.reason = ipc::reject_text(e.rejected);
        return v;
    }
    switch (e.killed) {
    case kill_reason::cancel:
        v.outcome = ipc::job_outcome::cancelled;
        v.reason = "cancelled";
        return v;
    case kill_reason::shutdown:
        v.outcome = ipc::job_outcome::cancelled;
        v.reason = "the server stopped";
        return v;
    case kill_reason::timeout:
        v.outcome = ipc::job_outcome::timed_out;
        v.timed_out = true;
        v.reason = fmt::format("timed out after {} ms", e.timeout_ms);
        return v;
    case kill_reason::none: break;
    }
    if (!e.reported) {
        v.outcome = ipc::job_outcome::crashed;
        v.reason = e.signal != 0 ? fmt::format("the runner died (signal {})", e.signal) : "the runner died";
        return v;
    }
    if (e.failure != ipc::job_failure::none) {
        v.outcome = ipc::job_outcome::failed;
        v.reason = e.text.empty() ? std::string("failed") : std::string(e.text);
        return v;
    }
    if (e.signal != 0) {
        v.outcome = ipc::job_outcome::crashed;
        v.reason = fmt::format("killed by signal {}", e.signal);
        return v;
    }
    if (e.exit_code != 0) {
        v.outcome = ipc::job_outcome::failed;
        v.reason = fmt::format("exit code {}", e.exit_code);
        return v;
    }
    v.outcome = ipc::job_outcome::ok;
    return v;
}

} // namespace ringfork::master
