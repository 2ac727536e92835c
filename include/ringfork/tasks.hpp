// Tasks: named functions that run in the task pool's runner processes (forked from the
// master, so the code is already there and only bytes cross processes), with timeouts
// that kill, progress, streamed output, and outcomes delivered to the caller's loop; and
// background jobs, submitted now and read by id later.
#pragma once

#include "ringfork/function.hpp"
#include "ringfork/http.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ringfork {

namespace detail {
class task_call_state;
} // namespace detail

/// What a task function sees while it runs, in its runner process.
class task_context {
public:
    virtual ~task_context() = default;
    /// Reports progress: the last line is what GET /tasks/jobs/ID shows and what a
    /// caller's on_progress receives.
    virtual void progress(std::string_view line) = 0;
    /// Emits a chunk of output now (streamed to a caller that asked for chunks, and kept as
    /// the job's output).
    virtual void emit(std::string_view bytes) = 0;
    /// The job was cancelled or reached its timeout: finish soon (SIGKILL follows the grace).
    [[nodiscard]] virtual bool cancelled() const = 0;
    /// When the job's timeout ends it.
    [[nodiscard]] virtual std::chrono::steady_clock::time_point deadline() const = 0;
};

/// A task function: bytes in, bytes out (appended after anything emitted). Throwing ends
/// the job as failed, with the exception's text as its message.
using task_function = std::function<std::string(task_context&, std::string_view input)>;

/// Settings of one task; zero means the pool's defaults (--task-timeout, --task-grace).
struct task_options {
    std::chrono::milliseconds timeout{0};
    std::chrono::milliseconds grace{0};   ///< Between SIGTERM and SIGKILL of the job's group.
    unsigned concurrency = 0;             ///< Runners that may run it at once; 0: any.
};

/// How a call ended.
struct task_result {
    /// queue_full also covers a job refused because it waited past --task-queue-timeout or
    /// the server is stopping; failed also covers an unknown task name.
    enum class outcome { ok, failed, timed_out, crashed, queue_full, cancelled };
    outcome what = outcome::failed;
    std::string output;   ///< What the function emitted and returned (empty when on_chunk took it).
    std::string message;  ///< Why, for every outcome but ok (failed: the exception's text).
    int signal = 0;       ///< The signal that ended the job's process (crashed).
    std::chrono::milliseconds elapsed{0}; ///< From the job's start; 0 if it never started.
    std::string job_id;   ///< The job's id (its log lines name it); empty if it was never submitted.

    [[nodiscard]] bool ok() const noexcept { return what == outcome::ok; }
};

/// "ok", "failed", "timed_out", "crashed", "queue_full", "cancelled".
[[nodiscard]] std::string_view outcome_name(task_result::outcome o) noexcept;

/// Per-call options.
struct call_options {
    std::chrono::milliseconds timeout{0}; ///< From the job's start; 0: the task's own (--task-timeout).
    std::chrono::milliseconds grace{0};   ///< SIGTERM to SIGKILL; 0: the task's own (--task-grace).
    /// The request this call serves (responder::client(), body_writer::client()): when its
    /// client goes away before the call ends, the call is cancelled.
    client_ref client;
    bool cancel_on_disconnect = true;     ///< false: the call goes on when `client` leaves.
    /// Each progress line the function reports, as it comes.
    unique_function<void(std::string_view line)> on_progress;
    /// Output as the function emits it, in order and complete. Return false to pause
    /// delivery (a client is behind) until task_call::resume(): nothing is lost meanwhile,
    /// and the outcome waits for the output before it. With on_chunk the result's output is
    /// empty.
    unique_function<bool(std::string_view chunk)> on_chunk;
};

/// A call in flight. Copyable handle; the call goes on when every copy is gone.
class task_call {
public:
    task_call() noexcept = default;
    explicit task_call(std::shared_ptr<detail::task_call_state> s) noexcept : s_(std::move(s)) {}
    /// Cancels it: queued, it never starts; running, its process group gets SIGTERM then
    /// SIGKILL after the grace. The callback gets `cancelled` (or the outcome it reached first).
    void cancel();
    /// Delivery paused by on_chunk returning false goes on.
    void resume();
    /// The outcome has not been delivered yet.
    [[nodiscard]] bool active() const noexcept;
    /// The job's id; empty for an empty handle.
    [[nodiscard]] std::string_view job_id() const noexcept;

private:
    std::shared_ptr<detail::task_call_state> s_;
};

/// Calls task `name` with `input`; on a worker's loop only (a handler, a posted function, a
/// callback ringfork made). `done` runs once on that loop with the outcome, never inside
/// call_task itself. Throws std::logic_error on any other thread.
task_call call_task(std::string_view name, std::string input, call_options options,
                    unique_function<void(task_result)> done);

// Background jobs: submitted now, read later (by id, from any worker) while the server
// keeps their state and output: --task-ttl after they end.

/// Options of a background job.
struct job_options {
    std::chrono::milliseconds timeout{0}; ///< 0: the task's own.
    std::chrono::milliseconds grace{0};   ///< 0: the task's own.
};

/// What submit_task's callback gets: the job's id once it is queued, or why it was refused.
struct job_submitted {
    std::string job_id;                   ///< Empty when refused.
    task_result::outcome refused = task_result::outcome::ok; ///< queue_full or failed when refused.
    std::string message;                  ///< Why it was refused.

    [[nodiscard]] bool queued() const noexcept { return !job_id.empty(); }
};

/// A background job as the server keeps it.
struct job_info {
    enum class state { queued, running, done, failed, timed_out, cancelled };
    state what = state::queued;
    std::string task;
    std::string progress;                 ///< Its last progress line.
    std::string message;                  ///< Why it failed, timed out or was cancelled.
    int exit_code = -1;
    int signal = 0;
    std::chrono::milliseconds elapsed{0};
    std::uint64_t output_bytes = 0;

    /// done, failed, timed_out or cancelled.
    [[nodiscard]] bool ended() const noexcept { return what != state::queued && what != state::running; }
};

/// "queued", "running", "done", "failed", "timed_out", "cancelled".
[[nodiscard]] std::string_view state_name(job_info::state s) noexcept;

/// Submits task `name` with `input` as a background job: it runs whether or not anyone
/// waits for it. `queued` runs once on this loop, with the id or the refusal. On a worker's
/// loop only (std::logic_error elsewhere).
void submit_task(std::string_view name, std::string_view input, job_options options,
                 unique_function<void(job_submitted)> queued);
/// Job `job_id`'s state; nullopt for an id the server does not know (malformed, never
/// submitted, or swept --task-ttl after it ended). Reads one small file; on a worker's loop.
[[nodiscard]] std::optional<job_info> job_state(std::string_view job_id);
/// The first `max` bytes of job `job_id`'s output so far; nullopt when it has none or the
/// id is unknown. Reads the spool on the calling loop: meant for small results.
[[nodiscard]] std::optional<std::string> job_output(std::string_view job_id, std::size_t max = 1 << 20);
/// Asks the server to cancel job `job_id` (any job, a call's too). False when the request
/// could not be sent; an unknown or ended job is left alone.
bool cancel_job(std::string_view job_id);

} // namespace ringfork
