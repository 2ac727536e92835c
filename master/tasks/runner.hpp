// A task runner process: forked by the master, waits on its channel for run_job, runs the
// job (a command in its own process group, or a function in the runner itself), reports
// started/progress/done, then kills whatever the job left behind. Owns job execution off
// the workers' loops; leaves queueing, timeouts and outcomes to the master's broker.
#pragma once

#include <sys/types.h>

#include "ipc/spool.hpp"
#include "master/tasks/registry.hpp"
#include "master/tasks/task_settings.hpp"

namespace ringfork::master {

/// What a runner gets at fork.
struct runner_start {
    unsigned index = 0;
    pid_t master_pid = 0;
    int channel_fd = -1;                        ///< Its SOCK_SEQPACKET end.
    const task_pool_settings* settings = nullptr;
    const task_registry* registry = nullptr;
    const ipc::spool* spool = nullptr;
};

/// Runs a runner until its channel closes (exit 0), or SIGINT / the master's death
/// (SIGUSR2: the job's group and every child killed, exit 1). Call in the child right after
/// fork. SIGTERM asks the running function job to stop (task_context::cancelled()).
[[nodiscard]] int run_task_runner(const runner_start& start);

} // namespace ringfork::master
