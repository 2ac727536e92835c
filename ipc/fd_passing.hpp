// Passing a file descriptor with a datagram over a Unix socket (SCM_RIGHTS): sending one,
// receiving one with recvmsg, and a receive area for io_uring_prep_recvmsg. Owns the
// control-message layout and that no passed descriptor is ever leaked; leaves what the
// datagram and the descriptor mean to the protocol that uses them.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>

#include "net/fd.hpp"

namespace ringfork::ipc {

/// Sends `size` bytes with `fd` attached (nothing attached when fd < 0), without blocking
/// (MSG_DONTWAIT, MSG_NOSIGNAL). Returns 0, or -errno (-EMSGSIZE for a short send).
[[nodiscard]] int send_with_fd(int socket, const void* data, std::size_t size, int fd) noexcept;

/// Receives one datagram into `data` (at most `size` bytes) and takes the descriptor it
/// carries into `fd` (close-on-exec; any further ones are closed). Returns the datagram's
/// size, 0 at EOF, or -errno; -EMSGSIZE (and no descriptor) for one longer than `size`.
/// Never blocks unless `wait`.
[[nodiscard]] long recv_with_fd(int socket, void* data, std::size_t size, net::unique_fd& fd,
                                bool wait = false) noexcept;

/// A receive area for one datagram and the descriptor it may carry, for recvmsg(2) or
/// io_uring_prep_recvmsg. Its msghdr points into the object, so it is neither copied nor
/// moved. A descriptor that arrived and was not taken is closed by the next prepare() or
/// by the destructor.
class datagram_inbox {
public:
    datagram_inbox(void* data, std::size_t size) noexcept;
    datagram_inbox(const datagram_inbox&) = delete;
    datagram_inbox& operator=(const datagram_inbox&) = delete;
    ~datagram_inbox() { (void)take_fd(); }

    /// The header for the next receive (lengths reset, any untaken descriptor closed).
    /// Pass MSG_CMSG_CLOEXEC in the receive's flags.
    [[nodiscard]] msghdr* prepare() noexcept;
    /// After a receive: the descriptor the datagram carried (empty when none); any further
    /// ones are closed.
    [[nodiscard]] net::unique_fd take_fd() noexcept;

private:
    static constexpr std::size_t max_fds = 4; ///< More than one is a sender's error; they are closed.

    iovec iov_{};
    msghdr header_{};
    alignas(cmsghdr) unsigned char control_[CMSG_SPACE(sizeof(int) * max_fds)] = {};
};

} // namespace ringfork::ipc
