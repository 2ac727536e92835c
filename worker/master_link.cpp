// The worker's side of supervision.
#include "worker/master_link.hpp"

#include <unistd.h>

#include <cerrno>
#include <csignal>

#include "net/error.hpp"
#include "worker/ops.hpp"

namespace ringfork::worker {

bool master_link::open(std::string& error)
{
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU})
        sigaddset(&set, s);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signal_fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signal_fd_) {
        error = net::sys_error("signalfd", "worker", errno);
        return false;
    }
    return true;
}

void master_link::arm()
{
    arm_signal();
    arm_channel();
}

void master_link::arm_signal()
{
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_read(sqe, signal_fd_.get(), &siginfo_, sizeof siginfo_, 0);
    io_uring_sqe_set_data64(sqe, ud(op::signal));
}

void master_link::on_signal(const io_uring_cqe& cqe)
{
    if (cqe.res == static_cast<int>(sizeof siginfo_)) {
        switch (siginfo_.ssi_signo) {
        case SIGTERM:
        case SIGQUIT:
            requests.drain = true;
            break;
        case SIGINT:
            requests.stop_now = true;
            break;
        case SIGUSR1:
            requests.reopen_logs = true;
            break;
        default:
            break; // the master acts on the rest
        }
    }
    arm_signal();
}

void master_link::arm_channel()
{
    if (start_.channel_fd < 0 || !channel_alive_)
        return;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_recvmsg(sqe, start_.channel_fd, inbox_.prepare(), MSG_CMSG_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud(op::channel));
}

void master_link::on_channel(const io_uring_cqe& cqe)
{
    if (cqe.res <= 0) {
        // The master is gone (or the channel broke): nobody supervises this worker any more.
        channel_alive_ = false;
        requests.stop_now = true;
        return;
    }
    if (inbox_.valid(cqe.res)) {
        switch (inbox_.msg.type) {
        case ipc::msg_type::drain:
            requests.drain = true;
            break;
        case ipc::msg_type::retire:
            requests.retire = true;
            break;
        case ipc::msg_type::reopen_logs:
            requests.reopen_logs = true;
            requests.log_file = inbox_.take_fd();
            break;
        case ipc::msg_type::upstream_set:
            requests.for_services.push_back(inbox_.msg);
            break;
        default:
            break;
        }
    }
    arm_channel();
}

void master_link::send(ipc::msg_type type, const ipc::worker_stats& stats)
{
    ipc::message m;
    m.type = type;
    send(m, stats);
}

void master_link::send(ipc::message& m, const ipc::worker_stats& stats)
{
    if (start_.channel_fd < 0 || !channel_alive_)
        return;
    m.slot = start_.slot;
    m.generation = start_.generation;
    m.pid = getpid();
    m.stats = stats;
    (void)ipc::send_message(start_.channel_fd, m); // a full channel only delays a snapshot
}

} // namespace ringfork::worker
