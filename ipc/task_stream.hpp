// The stream wire between a worker's loop and the master's task intake: one Unix stream
// connection per job to the master's intake socket, a fixed job_request (then, for a
// synchronous job, the body), and for a synchronous job a fixed job_result back. Owns that
// layout; it goes once the worker's task client submits jobs over its channel instead.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

namespace ringfork::ipc {

inline constexpr std::uint16_t task_stream_version = 1;

/// job_request::flags bits.
enum stream_flag : std::uint8_t {
    stream_body_in_file = 1, ///< The body is in <id>.in, not on the connection (async jobs).
};

/// Sent first on a job connection; a synchronous job's `body_length` bytes follow.
struct job_request {
    std::uint16_t version = task_stream_version;
    std::uint8_t async = 0;         ///< 1: the worker answers 202 and does not wait.
    std::uint8_t flags = 0;         ///< stream_flag bits.
    std::uint32_t body_length = 0;
    char id[32 + 1] = {};           ///< Chosen by the worker, NUL-terminated.
    char name[64 + 1] = {};         ///< Task name, NUL-terminated.
    char args[1024 + 1] = {};       ///< The request's query string, NUL-terminated.
};

/// How a job ended, on this wire.
enum class stream_outcome : std::uint8_t {
    ok = 0,
    failed = 1,
    timed_out = 2,
    unknown_task = 3,
    error = 4,     ///< The runner died or the pool failed the job.
    rejected = 5,  ///< Queue full, queue timeout or stopping.
    cancelled = 6,
};

/// Written by the master when a synchronous job has ended; the output is in the spool. For
/// a rejected job, `exit_code` carries the ipc::reject_reason.
struct job_result {
    std::uint16_t version = task_stream_version;
    stream_outcome outcome = stream_outcome::error;
    std::uint8_t reserved = 0;
    std::int32_t exit_code = -1;
    std::int32_t signal = 0;
    std::uint32_t elapsed_ms = 0;
    std::uint64_t output_bytes = 0;
};

static_assert(std::is_trivially_copyable_v<job_request>);
static_assert(std::is_trivially_copyable_v<job_result>);
static_assert(sizeof(job_result) <= 64, "the worker's loop keeps a 64-byte buffer for it");

/// HTTP status for an outcome: 200, 502, 504, 404, 500, 503, 409.
[[nodiscard]] constexpr unsigned job_status(stream_outcome o) noexcept
{
    switch (o) {
    case stream_outcome::ok: return 200;
    case stream_outcome::failed: return 502;
    case stream_outcome::timed_out: return 504;
    case stream_outcome::unknown_task: return 404;
    case stream_outcome::rejected: return 503;
    case stream_outcome::cancelled: return 409;
    case stream_outcome::error: break;
    }
    return 500;
}

/// "<spool>/<id><ext>": only the loop's "<id>.run" marker (an async job announced before
/// the master has read it) is still named by path; everything else goes through ipc::spool.
[[nodiscard]] inline std::string spool_path(std::string_view spool, std::string_view id, std::string_view ext)
{
    std::string p(spool);
    p += '/';
    p += id;
    p += ext;
    return p;
}

/// Fills `sa`/`len` from an intake address: "@name" is an abstract name ("\0name" in
/// sun_path, length without a trailing NUL), anything else a path. False if it does not fit.
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

} // namespace ringfork::ipc
