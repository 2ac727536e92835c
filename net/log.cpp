// Process-wide logging.
#include "net/log.hpp"

#include <unistd.h>

#include <ctime>
#include <string>

namespace ringfork::net::log {

namespace {

std::string role_ = "ringfork";
int fd_ = 2;

} // namespace

void set_role(std::string_view role) { role_ = role; }

void set_fd(int fd) { fd_ = fd; }

void write(level lv, std::string_view message)
{
    static constexpr std::string_view names[] = {"info", "warn", "error"};
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char stamp[32];
    const std::size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string line = fmt::format("{} [{} {}] {}: {}\n", std::string_view(stamp, n), role_, getpid(),
                                   names[static_cast<int>(lv)], message);
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        const ssize_t w = ::write(fd_, p, left);
        if (w <= 0)
            return; // nowhere to report a failing log
        p += w;
        left -= static_cast<std::size_t>(w);
    }
}

} // namespace ringfork::net::log
