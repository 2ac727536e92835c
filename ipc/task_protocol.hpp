// The task protocol: a job's fixed header, the records on its socket (one
// SOCK_SEQPACKET pair per job: the submitter holds one end; the master and then a runner
// write on the other), how a job ends, and the pool's counters. Owns the wire layout;
// leaves brokering to master/tasks, running jobs to the runner and HTTP to the worker.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "ipc/stats.hpp"
#include "net/ascii.hpp"

namespace ringfork::ipc {

inline constexpr std::uint16_t task_protocol_version = 3;
inline constexpr std::size_t task_name_max = 64;
inline constexpr std::size_t task_args_max = 1024;
inline constexpr std::size_t job_id_len = 32;          ///< Lower-case hex of 128 random bits.
inline constexpr std::size_t job_text_max = 255;       ///< A progress line or a reason, without its NUL.
inline constexpr std::size_t record_bytes_max = 32768; ///< Payload of one output or body record.

/// True for a task name: 1 to 64 of [A-Za-z0-9_-].
[[nodiscard]] constexpr bool valid_task_name(std::string_view name) noexcept;
/// True for a well-formed job id (32 lower-case hex digits).
[[nodiscard]] constexpr bool valid_job_id(std::string_view id) noexcept;
/// `bytes` random bytes (at most 16) as lower-case hex, from getrandom.
[[nodiscard]] std::string random_hex(std::size_t bytes);
/// A fresh job id: 128 random bits, unguessable.
[[nodiscard]] inline std::string new_job_id() { return random_hex(16); }
/// Copies `text` into the fixed field `field` (truncated, always NUL-terminated).
template <std::size_t N> void set_text(char (&field)[N], std::string_view text) noexcept;
/// The NUL-terminated text of a fixed field (never reads past it, whatever it holds).
template <std::size_t N> [[nodiscard]] std::string_view text_of(const char (&field)[N]) noexcept;

/// What the submitter asks for (job_header::flags).
enum job_flag : std::uint8_t {
    job_async = 1,       ///< The body is in <id>.in; the result is read from the spool later.
    job_stream = 2,      ///< Output is also sent as output records while the job runs.
    job_progress = 4,    ///< Progress lines are also sent as progress records.
    job_cancel_on_close = 8, ///< The submitter closing its end cancels the job (synchronous jobs).
};

/// Submitter -> master (job_submit) and master -> runner (run_job): what to run.
struct job_header {
    std::uint16_t version = task_protocol_version;
    std::uint8_t flags = 0;          ///< job_flag bits.
    std::uint8_t reserved = 0;
    std::uint32_t body_length = 0;   ///< Bytes of body records to come, or the size of <id>.in.
    std::uint32_t timeout_ms = 0;    ///< This job's timeout from its start; 0: its task's.
    std::uint32_t grace_ms = 0;      ///< This job's grace before SIGKILL; 0: its task's.
    char id[job_id_len + 1] = {};
    char name[task_name_max + 1] = {};
    char args[task_args_max + 1] = {}; ///< The request's query string (RINGFORK_TASK_ARGS).
};

/// How a job ended.
enum class job_outcome : std::uint8_t { ok = 0, failed, timed_out, crashed, cancelled, rejected };
/// Why a job was refused before it ran.
enum class reject_reason : std::uint8_t { none = 0, queue_full, unknown_task, queue_timeout, shutting_down };

/// Record types on a job socket, by writer.
enum class record_type : std::uint8_t {
    queued = 1,   ///< master -> submitter: the job is in the queue (no payload).
    rejected = 2, ///< master -> submitter: rejected_record; nothing follows.
    result = 3,   ///< master -> submitter: result_record; the last record.
    cancel = 4,   ///< master -> canceller, on a job_cancel's reply socket: cancel_record.
    started = 8,  ///< runner -> submitter: started_record.
    output = 9,   ///< runner -> submitter: output_head, then output bytes (job_stream).
    progress = 10,///< runner -> submitter: one progress line (job_progress).
    body = 16,    ///< submitter -> runner: request body bytes (synchronous jobs).
    body_end = 17,///< submitter -> runner: the body is complete (no payload).
};

/// Every record starts with this; `length` payload bytes follow in the same packet.
struct record_head {
    std::uint16_t version = task_protocol_version;
    record_type type = record_type::queued;
    std::uint8_t reserved = 0;
    std::uint32_t length = 0;
};

/// Output records say where their bytes sit in <id>.out. The runner never waits for a slow
/// submitter: when its socket is full a piece is skipped, and the submitter, seeing the gap,
/// reads those bytes from the file.
struct output_head {
    std::uint64_t offset = 0;
};

struct rejected_record {
    reject_reason reason = reject_reason::none;
};

/// What a cancel did.
enum class cancel_result : std::uint8_t {
    cancelled = 0,  ///< It was queued: it never runs.
    cancelling = 1, ///< It runs: SIGTERM now, SIGKILL after its grace.
    ended = 2,      ///< It had ended already.
    unknown = 3,    ///< No such job.
};

struct cancel_record {
    cancel_result result = cancel_result::unknown;
};

struct started_record {
    std::int32_t runner_pid = 0;
    std::int32_t pgid = 0; ///< The job's process group (the runner's own for a function task).
};

struct result_record {
    job_outcome outcome = job_outcome::crashed;
    std::uint8_t timed_out = 0;
    reject_reason rejected = reject_reason::none;
    std::uint8_t reserved = 0;
    std::int32_t exit_code = -1;   ///< When the job exited (or its function returned).
    std::int32_t signal = 0;       ///< When a signal ended it.
    std::uint32_t elapsed_ms = 0;  ///< From its start; 0 if it never started.
    std::uint64_t output_bytes = 0;
    char reason[job_text_max + 1] = {}; ///< Why it failed, in words; empty when it did not.
};

static_assert(std::is_trivially_copyable_v<job_header>);
static_assert(std::is_trivially_copyable_v<record_head>);
static_assert(std::is_trivially_copyable_v<started_record>);
static_assert(std::is_trivially_copyable_v<result_record>);

/// A received record: its type and a view of its payload inside the packet.
struct record_view {
    record_type type;
    std::span<const char> payload;
};

/// Checks a received packet (version, declared length = what arrived) and splits it.
[[nodiscard]] std::optional<record_view> parse_record(std::span<const char> packet) noexcept;
/// The payload as a T, when it has exactly T's size.
template <typename T> [[nodiscard]] std::optional<T> payload_as(const record_view& r) noexcept;
/// Sends one record (head + payload) without blocking: 0, or -errno (-EAGAIN when full).
[[nodiscard]] int send_record(int fd, record_type type, std::span<const char> payload) noexcept;
/// Sends an output record: its offset in <id>.out, then the bytes. 0 or -errno.
[[nodiscard]] int send_output_record(int fd, std::uint64_t offset, std::span<const char> bytes) noexcept;
/// send_record for a fixed-size payload.
template <typename T> [[nodiscard]] int send_record_of(int fd, record_type type, const T& payload) noexcept;

/// The HTTP status a job's ending answers with: 200, 502 (failed or crashed), 504 (timed
/// out), 409 (cancelled), 404 (unknown task), 503 (queue full, queue timeout, stopping).
[[nodiscard]] constexpr unsigned job_http_status(job_outcome o, reject_reason why) noexcept;

/// Why a job was refused, in words ("the task queue is full", ...).
[[nodiscard]] constexpr std::string_view reject_text(reject_reason why) noexcept;

/// The pool's counters, kept by the master (cumulative since it started).
struct task_stats {
    std::uint64_t submitted = 0;    ///< Jobs handed to the master.
    std::uint64_t started = 0;      ///< Jobs a runner started.
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;       ///< Non-zero exit, a signal, over the output cap, no space.
    std::uint64_t timed_out = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t errors = 0;       ///< The runner died, or the pool failed the job.
    std::uint64_t unknown_task = 0; ///< Submissions naming no configured task.
    std::uint64_t rejected = 0;     ///< Queue full, queue timeout, or stopping.
    latency_histogram latency;      ///< Start to end of every started job, microseconds.

    /// Adds another set of counters.
    void merge(const task_stats& other) noexcept;
};

static_assert(std::is_trivially_copyable_v<task_stats>);

// ---------------------------------------------------------------------------------------

constexpr bool valid_task_name(std::string_view name) noexcept
{
    return net::is_name(name, task_name_max);
}

constexpr bool valid_job_id(std::string_view id) noexcept
{
    if (id.size() != job_id_len)
        return false;
    for (const char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    return true;
}

template <std::size_t N> void set_text(char (&field)[N], std::string_view text) noexcept
{
    const std::size_t n = text.size() < N - 1 ? text.size() : N - 1;
    if (n)
        std::memcpy(field, text.data(), n);
    std::memset(field + n, 0, N - n);
}

template <std::size_t N> std::string_view text_of(const char (&field)[N]) noexcept
{
    std::size_t n = 0;
    while (n < N && field[n] != '\0')
        ++n;
    return {field, n};
}

template <typename T> std::optional<T> payload_as(const record_view& r) noexcept
{
    static_assert(std::is_trivially_copyable_v<T>);
    if (r.payload.size() != sizeof(T))
        return std::nullopt;
    T out;
    std::memcpy(&out, r.payload.data(), sizeof out);
    return out;
}

template <typename T> int send_record_of(int fd, record_type type, const T& payload) noexcept
{
    static_assert(std::is_trivially_copyable_v<T>);
    return send_record(fd, type, {reinterpret_cast<const char*>(&payload), sizeof payload});
}

constexpr unsigned job_http_status(job_outcome o, reject_reason why) noexcept
{
    switch (o) {
    case job_outcome::ok: return 200;
    case job_outcome::failed:
    case job_outcome::crashed: return 502;
    case job_outcome::timed_out: return 504;
    case job_outcome::cancelled: return 409;
    case job_outcome::rejected: return why == reject_reason::unknown_task ? 404 : 503;
    }
    return 500;
}

constexpr std::string_view reject_text(reject_reason why) noexcept
{
    switch (why) {
    case reject_reason::queue_full: return "the task queue is full";
    case reject_reason::unknown_task: return "no such task";
    case reject_reason::queue_timeout: return "the job waited too long in the task queue";
    case reject_reason::shutting_down: return "the server is stopping";
    case reject_reason::none: break;
    }
    return "rejected";
}

inline void task_stats::merge(const task_stats& other) noexcept
{
    submitted += other.submitted;
    started += other.started;
    ok += other.ok;
    failed += other.failed;
    timed_out += other.timed_out;
    cancelled += other.cancelled;
    errors += other.errors;
    unknown_task += other.unknown_task;
    rejected += other.rejected;
    latency.merge(other.latency);
}

} // namespace ringfork::ipc
