// The master's log files.
#include "master/supervise/log_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include <fmt/format.h>

#include "net/error.hpp"

namespace ringfork::master {

net::unique_fd open_access_log(const std::string& path, bool follow_symlinks, std::string& error)
{
    const int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (follow_symlinks ? 0 : O_NOFOLLOW);
    net::unique_fd fd(::open(path.c_str(), flags, 0644));
    if (!fd) {
        const int err = errno;
        struct stat st{};
        if (err == ELOOP && !follow_symlinks && ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode))
            error = fmt::format("open --access-log {}: is a symbolic link (pass --access-log-follow-symlinks to "
                                "follow it)",
                                path);
        else
            error = net::sys_error("open --access-log", path, err);
        return fd;
    }
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) {
        error = net::sys_error("fstat --access-log", path, errno);
        fd.reset();
    } else if (!S_ISREG(st.st_mode)) {
        error = fmt::format("open --access-log {}: is not a regular file", path);
        fd.reset();
    } else if (st.st_nlink > 1) {
        error = fmt::format("open --access-log {}: has {} hard links; refusing to append to it", path, st.st_nlink);
        fd.reset();
    } else if (::fcntl(fd.get(), F_SETFL, O_APPEND) != 0) { // writes may block on a full disk, not fail
        error = net::sys_error("fcntl(F_SETFL) --access-log", path, errno);
        fd.reset();
    }
    return fd;
}

} // namespace ringfork::master
