// The one way the master starts a child process (workers, task runners): its channel, the
// fork, descriptor hygiene, the drop to the children's identity (--user) and the hand-over
// to the child's code, with one error line that names the child. Owns what every child has
// in common; leaves what a child runs to the hook its caller passes.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "master/config/run_as.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

/// What to start: a name for error lines and the descriptors the child keeps.
struct spawn_request {
    std::string name;      ///< "worker 3", "task runner 1": named in every error line.
    std::vector<int> keep; ///< Descriptors the child keeps besides 0-2 and its channel end.
};

/// A started child: its pid and the master's end of its channel (non-blocking).
struct spawned_child {
    pid_t pid = 0;
    net::unique_fd channel;
};

/// The child's code: gets its end of the channel and returns the process's exit code.
using child_main = std::function<int(int channel_fd)>;

/// Who every child runs as from now on; set once at start, before the first spawn_child.
void set_children_identity(identity who);

/// Exit code of a child that could not become the children's identity (EX_OSERR).
inline constexpr int exit_identity_failed = 71;

/// Creates a SOCK_SEQPACKET channel and forks. The child closes every descriptor but 0-2,
/// its channel end and `keep`, becomes the children's identity (set_children_identity;
/// on failure one line naming the call and the child, then exit_identity_failed), and
/// `_exit`s with what `run` returns: it never returns into the master's code or unwinds its
/// stack. On failure logs one line naming the call and the child ("fork task runner 1:
/// Resource temporarily unavailable") and returns nullopt.
[[nodiscard]] std::optional<spawned_child> spawn_child(const spawn_request& request, const child_main& run);

/// How a child ended, from its wait status: "exit code 1", "signal 9 (Killed)".
[[nodiscard]] std::string describe_exit(int wait_status);

/// In a forked child about to exec a program of someone else's (a job, an app): default
/// signal dispositions and an empty mask, a process group of its own, SIGKILL when its
/// parent dies; false when `parent` has already gone (the child should _exit then).
[[nodiscard]] bool enter_own_group(pid_t parent) noexcept;

/// Closes every descriptor of this process except 0-2 and `keep`.
void close_fds_except(std::vector<int> keep) noexcept;

} // namespace ringfork::master
