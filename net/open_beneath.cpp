// The one confined open under a directory.
#include "net/open_beneath.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace ringfork::net {

beneath_result open_beneath(int dir_fd, const char* path, int flags) noexcept
{
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    // No RESOLVE_NO_SYMLINKS: links that stay beneath are a documented feature. No
    // RESOLVE_NO_XDEV: a volume mounted under the root is served. Not RESOLVE_IN_ROOT: it
    // would read an absolute link's "/x" as "<root>/x", another file than the link names.
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    beneath_result r;
    r.fd.reset(static_cast<int>(syscall(SYS_openat2, dir_fd, path, &how, sizeof how)));
    if (!r.fd)
        r.err = errno;
    return r;
}

} // namespace ringfork::net
