// Start-up check for --root.
#include "master/config/root_check.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "net/error.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

bool check_root(const std::string& dir, std::string& error)
{
    net::unique_fd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) {
        error = net::sys_error("open --root", dir, errno);
        return false;
    }
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC | O_DIRECTORY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    const net::unique_fd probe(static_cast<int>(syscall(SYS_openat2, root.get(), ".", &how, sizeof how)));
    if (!probe) {
        error = net::sys_error("openat2(RESOLVE_BENEATH)", dir, errno) +
                " (static files need Linux 5.6 or newer: refusing to serve without it)";
        return false;
    }
    return true;
}

} // namespace ringfork::master
