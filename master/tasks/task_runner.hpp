// The task pool's runner processes: the pool socket, the --task flag and the runner's accept
// loop. Owns running jobs off the workers' event loops; leaves HTTP and spool reads to workers.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/task_protocol.hpp"
#include "master/tasks/task_spool.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

inline constexpr std::uint16_t task_stats_version = 1;

/// Runner -> master, one datagram after every job: the runner's whole task_stats so far.
struct task_stats_message {
    std::uint16_t version = task_stats_version;
    std::uint16_t reserved = 0;
    std::uint32_t runner = 0; ///< The runner's index, 0..--task-workers-1.
    std::int32_t pid = 0;
    std::uint32_t reserved2 = 0;
    ipc::task_stats stats{};
};

/// Checks a received task_stats_message datagram's size and version.
[[nodiscard]] inline bool valid_task_stats_message(const void* data, long size) noexcept
{
    if (size != static_cast<long>(sizeof(task_stats_message)))
        return false;
    std::uint16_t version = 0;
    std::memcpy(&version, data, sizeof version);
    return version == task_stats_version;
}

/// One configured task. `builtin` non-empty ("prime", "fib"): computed in the job child, no exec.
struct task_spec {
    std::string name;
    std::vector<std::string> argv;
    std::string builtin;
};

struct task_pool_settings {
    std::vector<task_spec> tasks;
    unsigned runners = 2;                      ///< --task-workers
    unsigned queue = 64;                       ///< --task-queue (listen backlog)
    unsigned timeout_ms = 30000;               ///< --task-timeout
    std::string spool;                         ///< --task-spool (directory, 0700)
    unsigned ttl_s = 3600;                     ///< --task-ttl: older spool files are removed
    std::uint64_t cpu_seconds = 0;             ///< RLIMIT_CPU per job (0 = timeout rounded up + 1)
    std::uint64_t address_space = 1ull << 32;  ///< RLIMIT_AS per job (0 = unlimited)
    std::uint64_t open_files = 256;            ///< RLIMIT_NOFILE per job (0 = inherited)
    std::size_t stderr_max = 4096;             ///< Bytes of a job's stderr copied to the error log
};

/// The pool's listening socket and its address as workers connect to it ("@name" = abstract).
struct pool_socket {
    net::unique_fd fd;
    std::string address;
};

/// Parses "NAME=COMMAND" (COMMAND split on whitespace with simple '...' / "..." quoting; no
/// shell; "builtin:prime" / "builtin:fib" name a builtin). NAME is [A-Za-z0-9_-]{1,64}.
[[nodiscard]] std::optional<task_spec> parse_task_flag(std::string_view text, std::string& error);
/// Creates the pool's listening socket (abstract Unix address unique to this master,
/// SOCK_STREAM|SOCK_CLOEXEC, listen(queue)); `error` names the call and address on failure.
[[nodiscard]] std::optional<pool_socket> make_pool_socket(unsigned queue, std::string& error);
/// Runs a task-runner process until SIGTERM/SIGQUIT (exit 0 after the current job) or
/// SIGINT/SIGUSR2 (job group killed, exit 1); returns the exit code. Call in the child right
/// after fork. `channel_fd` (-1 = none) is a datagram/seqpacket socket that gets an
/// ipc::task_stats_message after every job.
[[nodiscard]] int run_task_runner(int listen_fd, unsigned index, pid_t master_pid,
                                  const task_pool_settings& settings, int channel_fd = -1);

} // namespace ringfork::master
