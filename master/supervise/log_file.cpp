// The master's log files.
#include "master/supervise/log_file.hpp"

#include <fcntl.h>

#include <cerrno>

#include "net/error.hpp"

namespace ringfork::master {

net::unique_fd open_access_log(const std::string& path, std::string& error)
{
    net::unique_fd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
    if (!fd)
        error = net::sys_error("open --access-log", path, errno);
    return fd;
}

} // namespace ringfork::master
