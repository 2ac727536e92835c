// Descriptor passing.
#include "ipc/fd_passing.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ringfork::ipc {

int send_with_fd(int socket, const void* data, std::size_t size, int fd) noexcept
{
    iovec iov{const_cast<void*>(data), size};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int))] = {};
    if (fd >= 0) {
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        cmsghdr* c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    for (;;) {
        const ssize_t n = ::sendmsg(socket, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n == static_cast<ssize_t>(size))
            return 0;
        if (n >= 0)
            return -EMSGSIZE;
        if (errno != EINTR)
            return -errno;
    }
}

long recv_with_fd(int socket, void* data, std::size_t size, net::unique_fd& fd, bool wait) noexcept
{
    fd.reset();
    datagram_inbox box(data, size);
    for (;;) {
        msghdr* header = box.prepare();
        const ssize_t n = ::recvmsg(socket, header, (wait ? 0 : MSG_DONTWAIT) | MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        net::unique_fd received = box.take_fd();
        if (header->msg_flags & MSG_TRUNC)
            return -EMSGSIZE; // a datagram of another shape: its descriptor is closed too
        fd = std::move(received);
        return static_cast<long>(n);
    }
}

datagram_inbox::datagram_inbox(void* data, std::size_t size) noexcept : iov_{data, size}
{
    header_.msg_iov = &iov_;
    header_.msg_iovlen = 1;
    header_.msg_control = control_;
    header_.msg_controllen = 0; // nothing received yet
}

msghdr* datagram_inbox::prepare() noexcept
{
    (void)take_fd();
    std::memset(control_, 0, sizeof control_);
    header_.msg_controllen = sizeof control_;
    header_.msg_flags = 0;
    return &header_;
}

net::unique_fd datagram_inbox::take_fd() noexcept
{
    net::unique_fd first;
    for (cmsghdr* c = CMSG_FIRSTHDR(&header_); c; c = CMSG_NXTHDR(&header_, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0))
            continue;
        const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (std::size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (!first)
                first.reset(fd);
            else
                ::close(fd);
        }
    }
    // Taken once: a second call, or a prepare() before the next receive, finds nothing.
    std::memset(control_, 0, sizeof control_);
    header_.msg_controllen = 0;
    return first;
}

} // namespace ringfork::ipc
