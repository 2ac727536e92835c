// The worker's listeners.
#include "worker/acceptor.hpp"

#include <sys/socket.h>

#include <cerrno>

#include "net/error.hpp"
#include "net/log.hpp"
#include "worker/ops.hpp"

namespace ringfork::worker {

namespace {

constexpr std::uint64_t window_ms = 1000; ///< Accept-share window length.

} // namespace

acceptor::acceptor(net::ring& ring, const ipc::worker_start& start, worker_env& env, connection_table& conns)
    : ring_(ring), start_(start), env_(env), conns_(conns)
{
    for (int fd : start.listen_fds)
        listeners_.push_back({fd, false});
}

void acceptor::start()
{
    for (std::uint32_t i = 0; i < listeners_.size(); ++i)
        arm(i);
    if (start_.share) {
        start_.share->slots[start_.slot].live.store(1, std::memory_order_relaxed);
        window_.reset(*start_.share, ipc::max_slots);
    }
    next_window_ms_ = env_.now_ms + window_ms;
}

// A shared listener gets one single-shot accept at a time: a multishot accept would take
// the whole backlog in one wake-up, and its waiter stays first in the socket's queue, so
// one worker would win every connection. Armed one at a time, waiters take turns.
void acceptor::arm(std::uint32_t index)
{
    io_uring_sqe* sqe = ring_.sqe();
    if (env_.settings.shared_accept)
        io_uring_prep_accept(sqe, listeners_[index].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    else
        io_uring_prep_multishot_accept(sqe, listeners_[index].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud(op::accept, index));
    listeners_[index].armed = true;
}

// Accept: a multishot accept stays armed while CQEs carry IORING_CQE_F_MORE; when one
// does not (error, cancel, overflow), it is re-armed unless accepting is paused.
void acceptor::on_accept(std::uint32_t index, const io_uring_cqe& cqe)
{
    listener& l = listeners_[index];
    if (!(cqe.flags & IORING_CQE_F_MORE))
        l.armed = false;
    if (cqe.res >= 0) {
        // Accepted before a cancel took effect: serve it like any other (while draining,
        // its response says Connection: close). Closing it would fail a client that did
        // nothing wrong.
        conns_.open(cqe.res);
        ++env_.stats.connections_accepted;
        if (start_.share) {
            start_.share->slots[start_.slot].accepted.fetch_add(1, std::memory_order_relaxed);
            publish_open();
        }
        if (conns_.open_count() >= env_.settings.max_connections)
            pause(pause_reason::limit);
        else if (start_.share && ipc::over_fair_share(*start_.share, ipc::max_slots, start_.slot, window_))
            pause(pause_reason::balance);
    } else if (cqe.res == -EMFILE || cqe.res == -ENFILE || cqe.res == -ENOMEM || cqe.res == -ENOBUFS) {
        net::log::error("{} (pausing accept)", net::sys_error("accept", fmt::format("fd={}", l.fd), -cqe.res));
        pause(pause_reason::error);
    }
    if (!l.armed && paused_ == pause_reason::none && !stopped_)
        arm(index);
}

void acceptor::pause(pause_reason why)
{
    if (paused_ == pause_reason::none)
        for (std::uint32_t i = 0; i < listeners_.size(); ++i)
            if (listeners_[i].armed) {
                io_uring_sqe* sqe = ring_.sqe();
                io_uring_prep_cancel64(sqe, ud(op::accept, i), 0);
                io_uring_sqe_set_data64(sqe, ud(op::cancel));
            }
    paused_ = why;
}

void acceptor::maybe_resume()
{
    if (stopped_)
        return;
    const std::uint32_t open = conns_.open_count();
    switch (paused_) {
    case pause_reason::none:
        return;
    case pause_reason::limit:
        if (open >= env_.settings.max_connections - env_.settings.max_connections / 10 && open > 0)
            return;
        break;
    case pause_reason::balance:
        if (ipc::over_fair_share(*start_.share, ipc::max_slots, start_.slot, window_))
            return;
        break;
    case pause_reason::error:
        break;
    }
    paused_ = pause_reason::none;
    for (std::uint32_t i = 0; i < listeners_.size(); ++i)
        if (!listeners_[i].armed)
            arm(i);
}

void acceptor::stop(std::uint64_t retire_for_ms)
{
    if (retire_for_ms > 0) {
        retiring_ = true;
        retire_until_ms_ = env_.now_ms + retire_for_ms;
    }
    if (stopped_)
        return;
    pause(pause_reason::none); // cancels the armed accepts; nothing re-arms them
    stopped_ = true;
    if (start_.share)
        start_.share->slots[start_.slot].live.store(0, std::memory_order_relaxed);
}

void acceptor::publish_open() noexcept
{
    if (start_.share)
        start_.share->slots[start_.slot].open.store(conns_.open_count(), std::memory_order_relaxed);
}

void acceptor::tick()
{
    publish_open();
    if (start_.share && env_.now_ms >= next_window_ms_) {
        window_.reset(*start_.share, ipc::max_slots);
        next_window_ms_ = env_.now_ms + window_ms;
    }
    if (paused_ != pause_reason::none)
        maybe_resume();
    if (retiring_ && empty_queues() && env_.now_ms >= retire_until_ms_)
        retiring_ = false;
}

bool acceptor::empty_queues()
{
    bool empty = true;
    for (const listener& l : listeners_) {
        for (int n = 0; n < 256; ++n) {
            const int fd = ::accept4(l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (fd < 0) {
                if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED && errno != EINTR)
                    net::log::error("{}", net::sys_error("accept4", fmt::format("fd={}", l.fd), errno));
                break;
            }
            conns_.open(fd);
            ++env_.stats.connections_accepted;
            if (n == 255)
                empty = false; // more may be queued: look again next tick
        }
    }
    return empty;
}

} // namespace ringfork::worker
