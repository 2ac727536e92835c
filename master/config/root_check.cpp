// Start-up check for --root.
#include "master/config/root_check.hpp"

#include <fcntl.h>

#include <cerrno>

#include "net/error.hpp"
#include "net/fd.hpp"
#include "net/open_beneath.hpp"

namespace ringfork::master {

bool check_root(const std::string& dir, std::string& error)
{
    net::unique_fd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) {
        error = net::sys_error("open --root", dir, errno);
        return false;
    }
    const net::beneath_result probe = net::open_beneath(root.get(), ".", O_RDONLY | O_DIRECTORY);
    if (!probe.fd) {
        error = net::sys_error("openat2(RESOLVE_BENEATH)", dir, probe.err) +
                " (static files need Linux 5.6 or newer: refusing to serve without it)";
        return false;
    }
    return true;
}

} // namespace ringfork::master
