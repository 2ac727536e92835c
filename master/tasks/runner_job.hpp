// One job inside a runner process: a command forked into its own process group, or a
// function called in the runner itself. Owns the job's processes, files and bytes while it
// runs; leaves the decision how it ended, and every timeout, to the master.
#pragma once

#include <sys/types.h>

#include <csignal>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "ipc/spool.hpp"
#include "ipc/task_channel.hpp"
#include "master/tasks/job_io.hpp"
#include "master/tasks/registry.hpp"

namespace ringfork::master {

/// What the runner tells the master about a job that ended.
struct job_report {
    int exit_code = -1;
    int signal = 0;
    std::uint64_t elapsed_us = 0;
    std::uint64_t output_bytes = 0;
    ipc::job_failure failure = ipc::job_failure::none;
    std::string text;              ///< Why it failed, when the runner failed it.
    std::string stderr_log;        ///< The start of its stderr, for the log.
};

/// How a job reaches the rest of the runner.
struct job_hooks {
    std::function<void(pid_t pgid)> started;             ///< It runs, in this process group.
    std::function<void(std::string_view line)> progress; ///< Its latest progress line.
    std::function<int()> idle;                           ///< Before each wait: ms until it is due again (-1: never).
    volatile std::sig_atomic_t* running_pgid = nullptr;  ///< A command's group, for the fatal signal handler.
    volatile std::sig_atomic_t* stop_requested = nullptr;///< SIGTERM from the master: a function job should end.
};

/// Everything a job runs with.
struct job_env {
    const task_entry& task;
    const ipc::job_header& header;
    job_link& link;
    const ipc::spool& spool;
    const task_pool_settings& settings;
    job_hooks& hooks;
};

/// Runs a command task: its own process group, rlimits, a private working directory, body
/// on stdin, stdout to <id>.out (and the link), stderr to <id>.err, progress lines from the
/// descriptor named in RINGFORK_PROGRESS_FD. Returns once it has exited and been reaped.
[[nodiscard]] job_report run_command_job(const job_env& env);
/// Jobs yield the CPU to the workers (a request never waits behind a computation for a
/// core): a command's process and a function's thread run at this much lower priority.
inline constexpr int job_nice = 10;

/// Runs a function task inside this process, on a thread of its own at job_nice, with the
/// whole body as input.
[[nodiscard]] job_report run_function_job(const job_env& env);

} // namespace ringfork::master
