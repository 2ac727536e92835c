// Task calls from this worker: every job it submits to the master (job_submit on its
// channel, with a SOCK_SEQPACKET job socket attached), the job's records read back, and
// the job's events delivered to plain callbacks on the loop. The HTTP task routes and the
// library's call_task are both built on it, so it has no HTTP in it. Owns every job socket
// of the worker and their ops; leaves what the events mean to the callers.
#pragma once

#include <liburing.h>
#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/task_protocol.hpp"
#include "net/fd.hpp"
#include "net/ring.hpp"
#include "worker/service.hpp"
#include "worker/worker_env.hpp"

namespace ringfork::worker {

/// What to run.
struct task_request {
    std::string id;               ///< Empty: a fresh random one.
    std::string task;
    std::string args;             ///< The job's RINGFORK_TASK_ARGS (a request's query string).
    std::string body;             ///< A synchronous call's input.
    std::uint64_t spooled_body = 0; ///< An async call's input size: it is in <id>.in already.
    bool async = false;           ///< Ends at `queued`: the result is read from the spool later.
    bool stream = false;          ///< Output events while it runs.
    bool progress = false;        ///< Progress events.
    bool cancel_on_close = true;  ///< drop() (the caller went away) cancels a synchronous job.
    std::uint32_t timeout_ms = 0; ///< This job's own timeout; 0: its task's.
    std::uint32_t grace_ms = 0;   ///< This job's own grace before SIGKILL; 0: its task's.
};

/// How a call ended.
struct task_outcome {
    ipc::job_outcome outcome = ipc::job_outcome::crashed;
    ipc::reject_reason rejected = ipc::reject_reason::none;
    int exit_code = -1;
    int signal = 0;
    std::uint32_t elapsed_ms = 0;
    std::uint64_t output_bytes = 0;
    bool timed_out = false;
    bool lost = false;            ///< No result came: the master went away (or garbled it).
    std::string reason;           ///< Why it failed, was rejected or cancelled.
};

/// A call's events, on the loop; any may be empty. `done` comes exactly once, unless the
/// call was dropped first.
struct task_events {
    std::function<void()> queued;
    std::function<void()> started;
    /// Output at `offset` of the job's output. Records the job socket had no room for are
    /// skipped, so offsets may jump: the bytes between are in the spool's <id>.out. Return
    /// false to pause until resume().
    std::function<bool(std::uint64_t offset, std::span<const char> bytes)> output;
    std::function<void(std::string_view line)> progress;
    std::function<void(const task_outcome&)> done;
};

/// A call's handle; 0 is none.
using task_call_id = std::uint64_t;

class task_calls final : public ring_service {
public:
    task_calls(net::ring& ring, worker_env& env) noexcept : ring_(ring), env_(env) {}
    /// The id the loop gave this service (loop::add_service).
    void attach(std::uint8_t service_id) noexcept { id_ = service_id; }

    /// Submits a job; 0 when it could not be (no pool, the channel is full): then no event
    /// comes. The id goes to `job_id` when given.
    [[nodiscard]] task_call_id call(task_request req, task_events events, std::string* job_id = nullptr);
    /// Forgets a call: no event comes any more and its job socket closes once its ops are
    /// back, which cancels a synchronous job that asked for it.
    void drop(task_call_id id) noexcept;
    /// Output delivery was paused (an output callback returned false): go on.
    void resume(task_call_id id);
    /// Asks the master to cancel job `job_id` (any job, not only this worker's); `answer`
    /// gets what it did later (ipc::cancel_result::unknown when the master did not say).
    /// False when the request could not be sent: then `answer` is not called.
    [[nodiscard]] bool cancel_job(std::string_view job_id, std::function<void(ipc::cancel_result)> answer);
    /// Calls and cancels in flight.
    [[nodiscard]] std::size_t active() const noexcept;

    void on_completion(const user_data& u, const io_uring_cqe& cqe) override;

private:
    enum op_kind : std::uint32_t { op_body = 0, op_record = 1, op_reply = 2 };

    struct slot {
        std::uint32_t generation = 1; ///< Never 0, so no call's id is 0.
        bool used = false;
        bool dropped = false;        ///< Forgotten by its caller: no events.
        bool finished = false;       ///< `done` delivered (or the socket ended).
        bool paused = false;
        bool in_callback = false;    ///< One of its events runs: not freed under it.
        bool body_inflight = false;
        bool record_inflight = false;
        bool body_end_sent = false;
        net::unique_fd fd;
        task_request req;
        task_events events;
        std::string job_id;
        std::size_t body_sent = 0;
        ipc::record_head body_head{};
        iovec body_iov[2]{};
        msghdr body_msg{};
        std::vector<char> packet;
        std::string held;            ///< A final record waiting for the body send to come back.
        std::function<void(ipc::cancel_result)> answer; ///< A cancel_job's.
    };

    [[nodiscard]] std::uint32_t take_slot();
    void release(std::uint32_t index) noexcept;
    [[nodiscard]] slot* live(task_call_id id) noexcept;
    void prep(std::uint32_t index, op_kind kind, io_uring_sqe*& sqe);
    void send_body(std::uint32_t index);
    void arm_record(std::uint32_t index);
    void on_body(std::uint32_t index, int res);
    void on_record(std::uint32_t index, int res);
    void on_packet(std::uint32_t index, std::string_view packet);
    void on_reply(std::uint32_t index, int res);
    void finish(std::uint32_t index, const task_outcome& o);
    /// Frees a slot that is finished or dropped once its ops are back.
    void settle(std::uint32_t index) noexcept;

    net::ring& ring_;
    worker_env& env_;
    std::uint8_t id_ = 0;
    std::deque<slot> slots_;      ///< A deque: a callback may start calls while its own runs.
    std::vector<std::uint32_t> free_;
};

} // namespace ringfork::worker
