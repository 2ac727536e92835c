// The pid file.
#include "master/supervise/pid_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>

#include "master/config/flag_values.hpp"
#include "net/error.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

bool write_pid_file(const std::string& path, pid_t pid, std::string& error)
{
    const std::string pattern = path + ".XXXXXX";
    std::string tmp = pattern;
    net::unique_fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
    if (!fd) {
        error = net::sys_error("mkostemp", pattern, errno);
        return false;
    }
    const std::string text = fmt::format("{}\n", pid);
    struct stat st{};
    bool ok = false;
    if (::fstat(fd.get(), &st) != 0)
        error = net::sys_error("fstat", tmp, errno);
    else if (!S_ISREG(st.st_mode))
        error = fmt::format("fstat {}: not a regular file", tmp);
    else if (::fchmod(fd.get(), 0644) != 0)
        error = net::sys_error("fchmod", tmp, errno);
    else if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
        error = net::sys_error("write", tmp, errno ? errno : EIO);
    else if (::rename(tmp.c_str(), path.c_str()) != 0)
        error = net::sys_error("rename", path, errno);
    else
        ok = true;
    if (!ok)
        ::unlink(tmp.c_str());
    return ok;
}

std::optional<pid_t> read_pid_file(const std::string& path)
{
    const net::unique_fd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
    struct stat st{};
    if (!fd || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
        return std::nullopt;
    char buf[32];
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n <= 0)
        return std::nullopt;
    std::string_view text(buf, static_cast<std::size_t>(n));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.remove_suffix(1);
    const auto number = parse_uint(text);
    if (!number || *number == 0 || *number > 0x7fffffffu)
        return std::nullopt;
    return static_cast<pid_t>(*number);
}

void remove_pid_file(const std::string& path, pid_t pid)
{
    if (read_pid_file(path) == pid)
        ::unlink(path.c_str());
}

} // namespace ringfork::master
