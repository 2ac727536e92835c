// Pipes for splicing file bodies to sockets.
#include "worker/pipe_pool.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace ringfork::worker {

pipe_pair pipe_pool::acquire()
{
    if (!idle_.empty()) {
        pipe_pair p = std::move(idle_.back());
        idle_.pop_back();
        return p;
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
        return {};
    pipe_pair p{net::unique_fd(fds[0]), net::unique_fd(fds[1]), 0};
    // A larger pipe means fewer round trips per body. Past the user's pipe quota, or past
    // /proc/sys/fs/pipe-max-size, the kernel refuses; the pipe keeps its default size.
    (void)::fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(window_));
    const int granted = ::fcntl(fds[1], F_GETPIPE_SZ);
    if (granted <= 0 || static_cast<std::size_t>(granted) < least_)
        return {};
    p.capacity = static_cast<std::uint32_t>(granted);
    return p;
}

void pipe_pool::release(pipe_pair p) noexcept
{
    if (!p.valid() || idle_.size() >= keep_)
        return;
    // Asked of the kernel rather than trusted from the caller's count: bytes left behind
    // would be sent to the next connection that takes this pipe.
    int held = 0;
    if (::ioctl(p.read_end.get(), FIONREAD, &held) == 0 && held == 0)
        idle_.push_back(std::move(p)); // otherwise closed here, with whatever it held
}

} // namespace ringfork::worker
