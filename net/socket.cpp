// Listening and accepted TCP sockets.
#include "net/socket.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

#include <fmt/format.h>

#include "net/error.hpp"

namespace ringfork::net {

unique_fd make_listener(const address& addr, const listen_options& opts, std::string& error)
{
    const std::string where = addr.to_string();
    unique_fd fd(::socket(addr.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        error = sys_error("socket", where, errno);
        return {};
    }
    const int one = 1;
    if (setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0) {
        error = sys_error("setsockopt(SO_REUSEADDR)", where, errno);
        return {};
    }
    if (opts.reuseport && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        error = sys_error("setsockopt(SO_REUSEPORT)", where, errno);
        return {};
    }
    if (addr.family() == AF_INET6 && setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) {
        error = sys_error("setsockopt(IPV6_V6ONLY)", where, errno);
        return {};
    }
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr.storage), addr.length) != 0) {
        error = sys_error("bind", where, errno);
        return {};
    }
    if (setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
        error = sys_error("setsockopt(TCP_NODELAY)", where, errno);
        return {};
    }
    if (::listen(fd.get(), opts.backlog) != 0) {
        error = sys_error("listen", where, errno);
        return {};
    }
    return fd;
}

bool set_defer_accept(int fd, unsigned seconds, std::string& error)
{
    const int value = static_cast<int>(seconds);
    if (setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &value, sizeof value) == 0)
        return true;
    error = sys_error("setsockopt(TCP_DEFER_ACCEPT)", fmt::format("listener fd={}", fd), errno);
    return false;
}

} // namespace ringfork::net
