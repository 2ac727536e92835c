// The master <-> task runner channel.
#include "ipc/task_channel.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

namespace ringfork::ipc {

bool is_worker_task_message(const void* data, std::size_t size) noexcept
{
    if (size != sizeof(worker_task_message))
        return false;
    worker_task_message m;
    std::memcpy(&m, data, sizeof m);
    return m.version == task_protocol_version &&
           (m.type == worker_task_msg::job_submit || m.type == worker_task_msg::job_cancel);
}

int send_runner_message(int sock, const runner_message& m, int fd) noexcept
{
    return send_with_fd(sock, &m, sizeof m, fd);
}

int recv_runner_message(int sock, runner_message& m, net::unique_fd& fd, bool wait) noexcept
{
    const long n = recv_with_fd(sock, &m, sizeof m, fd, wait);
    if (n <= 0)
        return static_cast<int>(n);
    if (n != static_cast<long>(sizeof m) || m.version != runner_protocol_version) {
        fd.reset();
        return -EPROTO;
    }
    return 1;
}

} // namespace ringfork::ipc
