// The worker <-> task-runner protocol: one Unix stream connection per job to the pool's
// listening socket, whose backlog is the bounded queue (a full queue refuses connect()).
// Owns the wire layout and the spool naming; leaves running jobs to the runner and HTTP
// to the worker.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "ipc/stats.hpp"

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

/// Fills `sa`/`len` from a pool address as make_pool_socket prints it: "@name" is an abstract
/// name ("\0name" in sun_path, length without a trailing NUL), anything else a path. False if
/// it does not fit.
[[nodiscard]] inline bool task_pool_sockaddr(std::string_view address, sockaddr_un& sa, socklen_t& len) noexcept
{
    sa = {};
    sa.sun_family = AF_UNIX;
    if (address.empty() || address.size() >= sizeof sa.sun_path)
        return false;
    std::memcpy(sa.sun_path, address.data(), address.size());
    if (address[0] == '@')
        sa.sun_path[0] = '\0';
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address.size() + (address[0] == '@' ? 0 : 1));
    return true;
}

/// One task runner's counters, cumulative since the runner started.
struct task_stats {
    std::uint64_t started = 0;      ///< Jobs whose command was spawned.
    std::uint64_t ok = 0;
    std::uint64_t failed = 0;       ///< Non-zero exit or killed by a signal.
    std::uint64_t timed_out = 0;
    std::uint64_t errors = 0;       ///< Internal failures and clients that went away.
    std::uint64_t unknown_task = 0; ///< Requests naming no configured task.
    std::uint64_t rejected = 0;     ///< Queue full (counted by workers; runners leave it 0).
    latency_histogram latency;      ///< Start to exit of every started job, microseconds.

    /// Adds another runner's counters, for pool totals.
    void merge(const task_stats& other) noexcept
    {
        started += other.started;
        ok += other.ok;
        failed += other.failed;
        timed_out += other.timed_out;
        errors += other.errors;
        unknown_task += other.unknown_task;
        rejected += other.rejected;
        latency.merge(other.latency);
    }
};

inline constexpr std::uint16_t task_stats_version = 1;

/// Runner -> master, one datagram after every job: the runner's whole task_stats so far.
struct task_stats_message {
    std::uint16_t version = task_stats_version;
    std::uint16_t reserved = 0;
    std::uint32_t runner = 0; ///< The runner's index, 0..--task-workers-1.
    std::int32_t pid = 0;
    std::uint32_t reserved2 = 0;
    task_stats stats{};
};

static_assert(std::is_trivially_copyable_v<task_stats>);
static_assert(std::is_trivially_copyable_v<task_stats_message>);
static_assert(std::is_standard_layout_v<task_stats_message>);

/// Checks a received task_stats_message datagram's size and version.
[[nodiscard]] inline bool valid_task_stats_message(const void* data, long size) noexcept
{
    if (size != static_cast<long>(sizeof(task_stats_message)))
        return false;
    std::uint16_t version = 0;
    std::memcpy(&version, data, sizeof version);
    return version == task_stats_version;
}

} // namespace ringfork::ipc
