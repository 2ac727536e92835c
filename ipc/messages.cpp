// Channel message send/receive.
#include "ipc/messages.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace ringfork::ipc {

int send_message(int fd, const message& m) noexcept
{
    for (;;) {
        if (::send(fd, &m, sizeof m, MSG_NOSIGNAL | MSG_DONTWAIT) == static_cast<ssize_t>(sizeof m))
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int send_message(int channel, const message& m, int fd) noexcept
{
    return send_with_fd(channel, &m, sizeof m, fd);
}

bool valid_message(const void* data, long size) noexcept
{
    return size == static_cast<long>(sizeof(message)) &&
           static_cast<const message*>(data)->version == protocol_version;
}

int recv_message(int fd, message& m) noexcept
{
    for (;;) {
        const ssize_t n = ::recv(fd, &m, sizeof m, MSG_DONTWAIT);
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        return valid_message(&m, n) ? 1 : -EPROTO;
    }
}

} // namespace ringfork::ipc
