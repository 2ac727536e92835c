// The task messages on the master's channels: worker -> master job_submit (the job's socket
// attached with SCM_RIGHTS) and job_cancel (a reply socket attached) on a worker's channel,
// and the master <-> runner channel (run_job with the job's socket; ready, started,
// progress, done). Owns the message layouts and descriptor passing; leaves brokering to
// master/tasks, running jobs to the runner and HTTP to the worker.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <type_traits>

#include "ipc/task_protocol.hpp"
#include "ipc/fd_passing.hpp"
#include "net/fd.hpp"

namespace ringfork::ipc {

inline constexpr std::uint16_t runner_protocol_version = 1;

/// Type bytes of the task messages on a worker's channel; they share the channel with
/// ipc::message and are told apart by size, version and this byte.
enum class worker_task_msg : std::uint8_t {
    job_submit = 32, ///< `job`; the job's socket attached.
    job_cancel = 33, ///< `job.id`; a reply socket attached, answered with one cancel record.
};

/// Worker -> master: a job to queue, or one to cancel.
struct worker_task_message {
    std::uint16_t version = task_protocol_version;
    worker_task_msg type = worker_task_msg::job_submit;
    std::uint8_t reserved = 0;
    job_header job{};
};

static_assert(std::is_trivially_copyable_v<worker_task_message>);

/// The packet is a worker_task_message (size, version, type), not a channel message.
[[nodiscard]] bool is_worker_task_message(const void* data, std::size_t size) noexcept;

enum class runner_msg : std::uint8_t {
    // master -> runner
    run_job = 1,   ///< `job`; the job's socket attached (none for an async job).
    // runner -> master
    ready = 16,    ///< Set up and idle.
    started = 17,  ///< The job runs in process group `pgid`.
    progress = 18, ///< `text`: the job's latest progress line.
    done = 19,     ///< The job ended: exit_code or signal, elapsed, output, failure; rss_kb after it.
};

/// Why a runner ended a job itself (runner_message::failure).
enum class job_failure : std::uint8_t {
    none = 0,
    output_cap,   ///< Its output went over the cap.
    no_space,     ///< The spool's file system is full.
    spool,        ///< A spool file could not be made or written (text says which).
    start,        ///< The command could not be started (text says why).
    body,         ///< The submitter's body ended early or was malformed.
    function,     ///< The function task reported an error (text).
};

struct runner_message {
    std::uint16_t version = runner_protocol_version;
    runner_msg type = runner_msg::ready;
    job_failure failure = job_failure::none;
    std::int32_t pid = 0;           ///< The runner's.
    std::int32_t pgid = 0;          ///< started: the job's process group.
    std::int32_t exit_code = -1;    ///< done: when it exited or its function returned.
    std::int32_t signal = 0;        ///< done: when a signal ended it.
    std::uint32_t elapsed_ms = 0;   ///< done: from its start.
    std::uint64_t output_bytes = 0; ///< done: written to <id>.out.
    std::uint64_t rss_kb = 0;       ///< done: the runner's resident memory after the job.
    char id[job_id_len + 1] = {};
    char text[job_text_max + 1] = {};
    job_header job{};               ///< run_job.
};

static_assert(std::is_trivially_copyable_v<runner_message>);

/// Sends a runner message (with `fd` attached for run_job).
[[nodiscard]] int send_runner_message(int sock, const runner_message& m, int fd = -1) noexcept;
/// Receives a runner message; 1 on success, 0 at EOF, -errno, or -EPROTO for a packet of
/// the wrong size or version.
[[nodiscard]] int recv_runner_message(int sock, runner_message& m, net::unique_fd& fd, bool wait = false) noexcept;

} // namespace ringfork::ipc
