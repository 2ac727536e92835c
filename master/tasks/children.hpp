// The children of this process, as a child subreaper sees them: a job's background
// processes, reparented to the runner when their parent exits, and whatever escaped a
// runner that died, reparented to the master. Owns finding and killing them; leaves deciding
// who is known to the callers.
#pragma once

#include <sys/types.h>

#include <functional>
#include <vector>

namespace ringfork::master {

/// This process's live children, every thread's (from /proc/self/task/*/children).
[[nodiscard]] std::vector<pid_t> list_children();
/// SIGKILLs and reaps every child of this process, again and again while grandchildren are
/// reparented to it, until none is left or `budget_ms` passes. Returns how many it killed.
std::size_t kill_all_children(int budget_ms);
/// SIGKILLs every child `known` does not claim (the caller reaps them). Returns how many.
std::size_t kill_unknown_children(const std::function<bool(pid_t)>& known);
/// For a fatal signal handler: SIGKILL to every child of the calling thread, using only
/// async-signal-safe calls.
void kill_children_from_signal_handler() noexcept;

} // namespace ringfork::master
