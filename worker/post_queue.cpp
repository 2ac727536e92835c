// Posting work to a worker's loop from any thread.
#include "worker/post_queue.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <exception>

#include "net/error.hpp"
#include "net/log.hpp"
#include "ringfork/loop.hpp"

namespace ringfork::detail {

std::shared_ptr<post_queue> post_queue::create(std::string& error)
{
    auto q = std::make_shared<post_queue>();
    q->efd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!q->efd_) {
        error = net::sys_error("eventfd", "post queue", errno);
        return nullptr;
    }
    return q;
}

bool post_queue::post(ringfork::unique_function<void()> fn)
{
    {
        const std::lock_guard<std::mutex> lock(m_);
        if (closed_)
            return false;
        items_.push_back(std::move(fn));
    }
    const std::uint64_t one = 1;
    // A full counter (2^64 - 2 wake-ups unread) cannot happen; EAGAIN would only mean the
    // loop is already due to wake.
    (void)::write(efd_.get(), &one, sizeof one);
    return true;
}

std::vector<ringfork::unique_function<void()>> post_queue::take()
{
    const std::lock_guard<std::mutex> lock(m_);
    return std::exchange(items_, {});
}

void post_queue::close() noexcept
{
    const std::lock_guard<std::mutex> lock(m_);
    closed_ = true;
    items_.clear();
}

} // namespace ringfork::detail

namespace ringfork::worker {

post_service::~post_service()
{
    q_->close();
}

void post_service::start(net::ring& ring, std::uint8_t id)
{
    ring_ = &ring;
    id_ = id;
    arm();
}

void post_service::arm()
{
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_read(sqe, q_->event_fd(), &counter_, sizeof counter_, 0);
    io_uring_sqe_set_data64(sqe, service_user_data(id_, 0));
}

// Each read of the eventfd means "something was posted": run all of it, in order, then
// read again. A function that throws is logged and the rest still run.
void post_service::on_completion(const user_data&, const io_uring_cqe& cqe)
{
    if (cqe.res < 0 && cqe.res != -EAGAIN && cqe.res != -EINTR) {
        net::log::error("{}", net::sys_error("read", "post queue eventfd", -cqe.res));
        return; // the loop is stopping (cancelled) or the eventfd broke: posts stay queued
    }
    for (ringfork::unique_function<void()>& fn : q_->take()) {
        try {
            fn();
        } catch (const std::exception& e) {
            net::log::error("a function posted to the loop threw: {}", e.what());
        } catch (...) {
            net::log::error("a function posted to the loop threw an exception of unknown type");
        }
    }
    arm();
}

} // namespace ringfork::worker

namespace ringfork {

bool loop_ref::post(ringfork::unique_function<void()> fn) const
{
    return q_ && q_->post(std::move(fn));
}

} // namespace ringfork
