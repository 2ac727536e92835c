// The one confined open under a directory someone else may write to: openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS. Owns how a path beneath a root is resolved;
// leaves what to do with the descriptor, and what an error means to the caller, to callers.
#pragma once

#include "net/fd.hpp"

namespace ringfork::net {

/// A descriptor, or the errno of the failed openat2.
struct beneath_result {
    unique_fd fd;
    int err = 0;
};

/// Opens `path` (relative to `dir_fd`, NUL-terminated; "." for the directory itself) with
/// `flags` (O_RDONLY, O_DIRECTORY, O_PATH...) plus O_CLOEXEC | O_NOCTTY | O_NONBLOCK, so a
/// FIFO or device never blocks the caller. Resolution never leaves `dir_fd`: "..", an
/// absolute path, an absolute symlink and a relative symlink that climbs out all fail with
/// EXDEV; a magic link (/proc/PID/fd/N) fails with ELOOP; relative symlinks that stay
/// beneath are followed; mount points are crossed.
[[nodiscard]] beneath_result open_beneath(int dir_fd, const char* path, int flags) noexcept;

} // namespace ringfork::net
