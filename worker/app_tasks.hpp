// The library's tasks in one worker: call_task, submit_task, job_state, job_output and
// cancel_job on this worker's task_calls, each call's outcome, progress and output handed
// to the caller's callbacks on the loop. Owns each call's state (its output so far, its
// pause, its link to a client); leaves the job sockets to task_calls and the spool's layout
// to ipc/spool.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/spool.hpp"
#include "ringfork/tasks.hpp"
#include "worker/post_queue.hpp"
#include "worker/task_calls.hpp"

namespace ringfork::worker {
class app_tasks;
}

namespace ringfork::detail {

/// A request's client as the calls made for it see it (responder::client()).
struct client_state {
    bool gone = false;
    /// The answer waits at least until then (the loop's clock, ms): the longest a call made
    /// for this client may take.
    std::uint64_t hold_until_ms = 0;
    std::vector<std::weak_ptr<task_call_state>> calls;

    /// The client went away: calls made for it that asked to be are cancelled.
    void left();
};

/// One call_task in flight.
class task_call_state : public std::enable_shared_from_this<task_call_state> {
public:
    task_call_state(worker::app_tasks& owner, call_options options, unique_function<void(task_result)> done)
        : owner_(&owner), options_(std::move(options)), done_(std::move(done))
    {
    }

    void cancel();
    void resume();
    [[nodiscard]] bool active() const noexcept { return !delivered_; }
    [[nodiscard]] const std::string& job_id() const noexcept { return job_id_; }
    [[nodiscard]] bool cancel_on_disconnect() const noexcept { return options_.cancel_on_disconnect; }

private:
    friend class worker::app_tasks;

    /// An output record at `offset`: false to pause the socket.
    bool on_output(std::uint64_t offset, std::span<const char> bytes);
    void on_done(const worker::task_outcome& o);
    /// Hands on output from <id>.out up to `end`; false when on_chunk paused it first.
    bool catch_up(std::uint64_t end);
    /// Gives `bytes` (at offset `delivered_`) to on_chunk or the output; false: paused.
    bool hand_on(std::span<const char> bytes);
    /// The outcome, once every byte before it was handed on.
    void finish();

    worker::app_tasks* owner_;
    call_options options_;
    unique_function<void(task_result)> done_;
    std::string job_id_;
    worker::task_call_id id_ = 0;
    std::string output_;
    std::uint64_t delivered_bytes_ = 0; ///< Output handed on so far.
    std::uint64_t known_end_ = 0;       ///< Output known to be in <id>.out.
    std::optional<worker::task_outcome> ended_;
    bool paused_ = false;               ///< on_chunk said stop.
    bool cancel_sent_ = false;
    bool delivered_ = false;            ///< `done` ran (or will: it is posted).
};

} // namespace ringfork::detail

namespace ringfork::worker {

class app_tasks {
public:
    /// `posts` delivers outcomes known at once (no pool, the channel full), so `done` never
    /// runs inside call_task.
    app_tasks(task_calls* calls, worker_env& env, std::shared_ptr<detail::post_queue> posts) noexcept
        : calls_(calls), env_(env), posts_(std::move(posts))
    {
    }

    /// The calling thread's (a worker's loop), or null.
    [[nodiscard]] static app_tasks* current() noexcept;
    /// Makes this the calling thread's; null clears it.
    static void make_current(app_tasks* t) noexcept;

    ringfork::task_call call(std::string_view name, std::string input, call_options options,
                                 unique_function<void(task_result)> done);
    void submit(std::string_view name, std::string_view input, const job_options& options,
                unique_function<void(job_submitted)> queued);
    [[nodiscard]] std::optional<job_info> state(std::string_view job_id);
    [[nodiscard]] std::optional<std::string> output(std::string_view job_id, std::size_t max);
    bool cancel(std::string_view job_id);

    [[nodiscard]] task_calls* calls() noexcept { return calls_; }
    [[nodiscard]] worker_env& env() noexcept { return env_; }
    /// Runs `fn` on the loop soon (never now).
    void later(unique_function<void()> fn);

private:
    task_calls* calls_;
    worker_env& env_;
    std::shared_ptr<detail::post_queue> posts_;
};

/// The outcome a handler sees for a job that ended with `o`.
[[nodiscard]] task_result result_of(const task_outcome& o);
/// The state a handler sees for a job's state record.
[[nodiscard]] job_info info_of(const ipc::job_state_record& r);

} // namespace ringfork::worker
