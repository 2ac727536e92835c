// One job of the task pool: its command in a process group of its own under resource limits,
// fed the request body, stderr kept bounded, the deadline enforced, every process reaped.
// Owns the job's processes and temp dir; leaves framing, result files and logging to the runner.
#pragma once

#include <csignal>
#include <cstdint>
#include <string>

#include "ipc/task_protocol.hpp"
#include "master/tasks/task_runner.hpp"

namespace ringfork::master {

/// What a job left behind besides its output file.
struct job_run {
    ipc::job_result result;
    std::string stderr_text;      ///< The first settings.stderr_max bytes of its stderr.
    std::uint64_t elapsed_us = 0; ///< Spawn to exit (or to the kill that ended it).
};

/// Runs `spec` for `request`, whose body (request.body_length bytes) is still unread on
/// `conn`; the output goes to "<spool>/<id>.out". Returns within the job's timeout plus about
/// 1.2 s. While the job's process group exists its id is in `*running_pgid` (0 otherwise), so
/// a signal handler can kill the whole group.
[[nodiscard]] job_run run_job(const task_spec& spec, const ipc::job_request& request, int conn,
                              const task_pool_settings& settings, volatile std::sig_atomic_t* running_pgid);

} // namespace ringfork::master
