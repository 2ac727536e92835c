// Tasks: named functions that run in the task pool's runner processes (forked from the
// master, so the code is already there and only bytes cross processes), with timeouts
// that kill, progress, streamed output, and outcomes delivered to the caller's loop.
#pragma once

#include "ringfork/function.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
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
    enum class outcome { ok, failed, timed_out, crashed, queue_full, cancelled };
    outcome what = outcome::failed;
    std::string output;   ///< The function's output (ok), or what it produced before the end.
    std::string message;  ///< Why, for failed (the exception's text) and the others.
    int signal = 0;       ///< The signal that ended the job (crashed).
    std::chrono::milliseconds elapsed{0};

    [[nodiscard]] bool ok() const noexcept { return what == outcome::ok; }
};

/// Per-call options.
struct call_options {
    std::chrono::milliseconds timeout{0}; ///< 0: the task's own.
    std::chrono::milliseconds grace{0};   ///< 0: the task's own.
    bool cancel_on_disconnect = true;     ///< With responder::call_task: cancel if the client leaves.
    unique_function<void(std::string_view line)> on_progress;
    unique_function<void(std::string_view chunk)> on_chunk;
};

/// A call in flight. Copyable handle; the call goes on when every copy is gone.
class task_call {
public:
    task_call() noexcept = default;
    explicit task_call(std::shared_ptr<detail::task_call_state> s) noexcept : s_(std::move(s)) {}
    /// Cancels it: queued, it never starts; running, its process group gets SIGTERM then
    /// SIGKILL after the grace. The callback gets `cancelled`.
    void cancel();
    /// The outcome has not been delivered yet.
    [[nodiscard]] bool active() const noexcept;

private:
    std::shared_ptr<detail::task_call_state> s_;
};

/// Calls task `name` with `input` from a worker's loop; `done` runs on that loop with the
/// outcome (queue_full at once when the queue is full).
task_call call_task(std::string_view name, std::string input, call_options options,
                    unique_function<void(task_result)> done);

} // namespace ringfork
