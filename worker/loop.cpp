// The worker's io_uring loop.
//
// One turn: queue sends for every connection that produced output, publish recycled
// receive buffers, submit and wait once (bounded by the next timer tick), then route every
// completion, act on what was asked, and advance the timers. Handlers only prepare SQEs.
#include "worker/loop.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <ctime>

#include "net/clock.hpp"
#include "net/error.hpp"
#include "net/log.hpp"
#include "worker/ops.hpp"

namespace ringfork::worker {

namespace {

constexpr unsigned ring_entries = 1024;
constexpr std::uint64_t balance_recheck_ms = 5;   ///< How soon a paused worker looks again.
constexpr std::size_t splice_window = 256 * 1024; ///< Pipe size asked for: a spliced body's window.
constexpr std::size_t spare_pipes_max = 64;       ///< Empty pipes kept for reuse.
constexpr unsigned iowq_bounded_max = 4;          ///< io_uring threads for file reads, per worker.
constexpr unsigned iowq_unbounded_max = 16;       ///< io_uring threads for splices, per worker.

} // namespace

loop::loop(const ipc::worker_start& start, const router& routes, std::string& error)
    : start_(start), settings_(*start.settings), pipes_(splice_window, spare_pipes_max),
      env_{routes, date_, settings_, stats_, scratch_, false, nullptr, std::time(nullptr), net::monotonic_us() / 1000,
           net::monotonic_us(), &pipes_},
      conns_(ring_, buffers_, env_), acceptor_(ring_, start, env_, conns_), link_(ring_, start)
{
    date_.update(env_.wall_now);
    env_.master_channel = start.channel_fd;
    ring_ = net::ring::create(ring_entries, error);
    if (!ring_)
        return;
    const auto& f = ring_.features();
    if (!f.recv_multishot || !f.accept_multishot || !f.buf_ring) {
        error = "kernel lacks io_uring multishot accept/recv or buffer rings (Linux 6.0 or newer is needed): " +
                f.describe();
        ring_ = net::ring();
        return;
    }
    buffers_ = net::buffer_ring::create(ring_, connection_table::buffer_group, settings_.buffer_count,
                                        settings_.buffer_size, error);
    if (!error.empty()) {
        ring_ = net::ring();
        return;
    }
    // File reads and splices that would block run on the ring's kernel threads. Bounding
    // them makes a burst of cold files queue for a thread instead of starting one each.
    unsigned iowq_limits[2] = {iowq_bounded_max, iowq_unbounded_max};
    if (const int r = io_uring_register_iowq_max_workers(ring_.get(), iowq_limits); r < 0)
        net::log::warn("{}", net::sys_error("io_uring_register_iowq_max_workers", "worker ring", -r));
    if (!link_.open(error)) {
        ring_ = net::ring();
        return;
    }
    if (start.access_log_fd >= 0) {
        access_log_ = access_log::adopt(net::unique_fd(start.access_log_fd), settings_.access_log);
        env_.log = &access_log_;
    }
}

int loop::run(bool defer_ready)
{
    link_.arm();
    if (!defer_ready)
        announce_ready();
    io_uring_submit(ring_.get());
    next_stats_ms_ = env_.now_ms + settings_.stats_interval_ms;

    for (;;) {
        conns_.flush();
        buffers_.publish();
        if (link_.requests.stop_now || (draining_ && !acceptor_.retiring() && conns_.open_count() == 0))
            break;
        __kernel_timespec ts = wait_time();
        io_uring_cqe* cqe = nullptr;
        const int rc = io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, &ts, nullptr);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY)
            net::log::error("{}", net::sys_error("io_uring_submit_and_wait_timeout", "worker ring", -rc));
        env_.now_us = net::monotonic_us();
        env_.now_ms = env_.now_us / 1000;
        unsigned head = 0, seen = 0;
        io_uring_for_each_cqe(ring_.get(), head, cqe)
        {
            dispatch(*cqe);
            ++seen;
        }
        io_uring_cq_advance(ring_.get(), seen);
        act_on_requests();
        tick();
    }
    if (start_.share)
        start_.share->slots[start_.slot].live.store(0, std::memory_order_relaxed);
    io_uring_submit(ring_.get()); // closes queued in the last turn
    access_log_.flush();
    stats_.connections_open = conns_.open_count();
    link_.send(ipc::msg_type::heartbeat, stats_); // the final snapshot
    return 0;
}

void loop::announce_ready()
{
    if (announced_ || draining_)
        return;
    announced_ = true;
    acceptor_.start();
    link_.send(ipc::msg_type::ready, stats_);
}

void loop::dispatch(const io_uring_cqe& cqe)
{
    const user_data u = user_data::decode(cqe.user_data);
    switch (u.kind) {
    case op::accept:
        acceptor_.on_accept(u.index, cqe);
        return;
    case op::recv:
        conns_.on_recv(u, cqe);
        return;
    case op::send:
        conns_.on_send(u, cqe);
        return;
    case op::source:
        conns_.on_source(u, cqe);
        return;
    case op::service:
        if (u.tag < services_.size()) {
            services_[u.tag]->on_completion(u, cqe);
            return;
        }
        break;
    case op::signal:
        link_.on_signal(cqe);
        return;
    case op::channel:
        link_.on_channel(cqe);
        return;
    case op::close:
        if (cqe.res < 0)
            net::log::error("{}", net::sys_error("close", "connection", -cqe.res));
        return;
    case op::cancel:
        return; // a cancel's own completion carries nothing to act on
    case op::none:
        break;
    }
    net::log::error("completion of unknown op {} (index {}, tag {}, res {}, flags {:#x})", int(u.kind), u.index,
                    u.tag, cqe.res, cqe.flags);
    std::abort();
}

std::uint8_t loop::add_service(ring_service& s)
{
    if (services_.size() >= 255) {
        net::log::error("more than 255 ring services in one worker");
        std::abort();
    }
    services_.push_back(&s);
    return static_cast<std::uint8_t>(services_.size() - 1);
}

void loop::act_on_requests()
{
    link_requests& r = link_.requests;
    if (r.reopen_logs) {
        r.reopen_logs = false;
        access_log_.reopen(std::move(r.log_file)); // USR1 alone only flushes: the master reopens
    }
    if (r.retire) {
        r.retire = false;
        start_drain(settings_.retire_accept_ms);
    }
    if (r.drain) {
        r.drain = false;
        start_drain();
    }
    if (!r.for_services.empty()) {
        for (const ipc::message& m : r.for_services)
            for (ring_service* s : services_)
                s->on_master_message(m);
        r.for_services.clear();
    }
}

// Draining: no new connections (a retiring slot first empties its queues); idle
// connections get a short last chance for a request already on its way; busy ones answer
// their next response with Connection: close.
void loop::start_drain(std::uint64_t retire_for_ms)
{
    acceptor_.stop(retire_for_ms);
    if (draining_)
        return;
    draining_ = true;
    env_.draining = true;
    conns_.start_drain();
    if (on_drain_)
        on_drain_();
}

void loop::tick()
{
    env_.wall_now = std::time(nullptr);
    date_.update(env_.wall_now);
    if (env_.now_ms >= next_log_flush_ms_) {
        access_log_.flush(); // at most a second behind
        next_log_flush_ms_ = env_.now_ms + 1000;
    }
    conns_.fire_deadlines();
    acceptor_.tick();
    for (ring_service* s : services_)
        s->tick();
    if (env_.now_ms >= next_stats_ms_) {
        link_.send(ipc::msg_type::heartbeat, stats_);
        next_stats_ms_ = env_.now_ms + settings_.stats_interval_ms;
    }
}

__kernel_timespec loop::wait_time() const noexcept
{
    std::uint64_t wait = next_stats_ms_ > env_.now_ms ? next_stats_ms_ - env_.now_ms : 0;
    if (acceptor_.retiring())
        wait = std::min<std::uint64_t>(wait, 10);
    if (const long t = conns_.next_wait_ms(); t >= 0)
        wait = std::min<std::uint64_t>(wait, std::uint64_t(t));
    for (const ring_service* s : services_)
        if (const long t = s->next_wait_ms(); t >= 0)
            wait = std::min<std::uint64_t>(wait, std::uint64_t(t));
    if (acceptor_.paused())
        wait = std::min(wait, balance_recheck_ms);
    __kernel_timespec ts{};
    ts.tv_sec = static_cast<long long>(wait / 1000);
    ts.tv_nsec = static_cast<long long>((wait % 1000) * 1'000'000);
    return ts;
}

} // namespace ringfork::worker
