// The worker <-> task-runner protocol: one Unix stream connection per job to the pool's
// listening socket, whose backlog is the bounded queue (a full queue refuses connect()).
// Owns the wire layout and the spool naming; leaves running jobs to the runner and HTTP
// to the worker.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace ringfork::ipc {

inline constexpr std::uint16_t task_protocol_version = 1;
inline constexpr std::size_t task_name_max = 64;
inline constexpr std::size_t task_args_max = 1024;
inline constexpr std::size_t job_id_len = 32; ///< Lower-case hex of 128 random bits.

/// Sent first on a job connection, followed by `body_length` bytes of request body.
struct job_request {
    std::uint16_t version = task_protocol_version;
    std::uint8_t async = 0;               ///< 1: the worker answers 202 and does not wait.
    std::uint8_t reserved = 0;
    std::uint32_t body_length = 0;
    char id[job_id_len + 1] = {};         ///< Chosen by the worker, NUL-terminated.
    char name[task_name_max + 1] = {};    ///< Task name, NUL-terminated.
    char args[task_args_max + 1] = {};    ///< The request's query string, NUL-terminated.
};

/// How a job ended.
enum class job_outcome : std::uint8_t { ok = 0, failed = 1, timed_out = 2, unknown_task = 3, error = 4 };

/// Sent by the runner when the job has ended; the output is in the spool file.
struct job_result {
    std::uint16_t version = task_protocol_version;
    job_outcome outcome = job_outcome::error;
    std::uint8_t reserved = 0;
    std::int32_t exit_code = -1;   ///< When the command exited.
    std::int32_t signal = 0;       ///< When the command was killed by a signal.
    std::uint32_t elapsed_ms = 0;
    std::uint64_t output_bytes = 0;
};

static_assert(std::is_trivially_copyable_v<job_request>);
static_assert(std::is_trivially_copyable_v<job_result>);

/// HTTP status a finished job answers with: 200, 502 (non-zero exit), 504 (timeout),
/// 404 (no such task), 500 (the pool failed).
[[nodiscard]] constexpr unsigned job_status(job_outcome o) noexcept
{
    switch (o) {
    case job_outcome::ok: return 200;
    case job_outcome::failed: return 502;
    case job_outcome::timed_out: return 504;
    case job_outcome::unknown_task: return 404;
    default: return 500;
    }
}

/// Spool layout: "<spool>/<id>.out" holds the output, "<id>.res" the job_result once done,
/// "<id>.run" exists while the job is queued or running.
[[nodiscard]] inline std::string spool_path(std::string_view spool, std::string_view id, std::string_view ext)
{
    std::string p(spool);
    p += '/';
    p += id;
    p += ext;
    return p;
}

/// True for a well-formed job id (32 lower-case hex digits).
[[nodiscard]] constexpr bool valid_job_id(std::string_view id) noexcept
{
    if (id.size() != job_id_len)
        return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    return true;
}

} // namespace ringfork::ipc
