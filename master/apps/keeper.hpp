// An app instance's keeper: the small process the master forks for each instance. It leads
// the instance's process group, starts the application in it and waits for it; when the
// application ends, or the master does (even by SIGKILL), it kills everything the
// application left, in the group or adopted as a subreaper, so nothing outlives either.
// Owns the instance's process tree; leaves supervising the instance to the master.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace ringfork::master {

/// What the keeper is to start.
struct keeper_plan {
    std::string name;              ///< "app web.1", for its error lines.
    std::vector<std::string> argv; ///< The command; argv[0] is looked up in PATH.
    std::uint16_t port = 0;        ///< PORT in the application's environment.
    unsigned index = 0;            ///< RINGFORK_APP_INSTANCE in it.
    int output_fd = -1;            ///< The output pipe's write end: the application's stdout and stderr.
    pid_t master = 0;              ///< The keeper's parent; when it is gone, so is the instance.
};

/// What a keeper tells the master on its channel.
struct keeper_report {
    enum class kind : std::uint8_t { started = 1, exited = 2 };
    kind what = kind::started;
    std::int32_t pid = 0;    ///< The application's pid.
    std::int32_t status = 0; ///< exited: its wait status.
};
static_assert(std::is_trivially_copyable_v<keeper_report>);

/// The keeper's code, run in the child spawn_child forked (after it dropped privileges):
/// returns the keeper's exit code, or does not return when it ends the group with itself.
[[nodiscard]] int run_keeper(const keeper_plan& plan, int channel_fd);

} // namespace ringfork::master
