// Relaying an app instance's output to the log.
#include "master/apps/output_relay.hpp"

#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::master {

std::string printable(std::string_view line)
{
    std::string out;
    out.reserve(line.size());
    for (const char c : line) {
        const auto b = static_cast<unsigned char>(c);
        if ((b < 0x20 && b != '\t') || b == 0x7f)
            out += fmt::format("\\x{:02x}", b);
        else
            out += c;
    }
    return out;
}

void output_relay::on_readable()
{
    if (!fd_)
        return;
    const auto log_line = [&](std::string_view line) { net::log::info("{}: {}", prefix_, printable(line)); };
    char buf[4096];
    std::size_t taken = 0;
    while (taken < read_per_call) {
        const ssize_t n = ::read(fd_.get(), buf, sizeof buf);
        if (n > 0) {
            taken += static_cast<std::size_t>(n);
            lines_.feed(std::string_view(buf, static_cast<std::size_t>(n)), log_line);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n < 0)
            net::log::warn("{}", net::sys_error("read", fmt::format("output of {}", prefix_), errno));
        lines_.finish(log_line);
        fd_.reset();
        return;
    }
}

} // namespace ringfork::master
