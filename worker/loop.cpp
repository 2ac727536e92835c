// The worker's io_uring loop.
//
// One turn: queue sends for every connection that produced output, publish recycled
// receive buffers, submit and wait once (bounded by the next timer tick), then handle
// every completion, then advance the timer wheel. Handlers only prepare SQEs.
#include "worker/loop.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <ctime>
#include <string_view>
#include <utility>

#include "net/clock.hpp"
#include "net/error.hpp"
#include "net/address.hpp"
#include "net/log.hpp"
#include "ipc/task_protocol.hpp"
#include "worker/file_cache.hpp"
#include "worker/task_routes.hpp"

namespace ringfork::worker {

namespace {

constexpr std::uint16_t buffer_group = 1;
constexpr unsigned ring_entries = 1024;
constexpr std::uint64_t linger_ms = 2000;        ///< Half-closed connection's wait for the peer's FIN.
constexpr std::uint64_t balance_recheck_ms = 5;  ///< How soon a paused shared-mode worker looks again.
constexpr std::uint64_t window_ms = 1000;        ///< Accept-share window length.
constexpr std::size_t spare_out_max = 1024;       ///< Pooled output blocks kept for reuse.
constexpr std::size_t spare_block_max = 64 * 1024;
constexpr std::size_t held_input_max = 64 * 1024; ///< Input held back beyond the limits' own bounds.
constexpr std::size_t stream_chunk = 128 * 1024;  ///< A streamed file's window per connection.
constexpr std::uint64_t splice_min = 64 * 1024;   ///< Bodies from this size are spliced, not read.
constexpr std::size_t splice_window = 256 * 1024; ///< Pipe size asked for: a spliced body's window.
constexpr std::size_t spare_pipes_max = 64;       ///< Empty pipes kept for reuse.
constexpr unsigned iowq_bounded_max = 4;          ///< io_uring threads for file reads, per worker.
constexpr unsigned iowq_unbounded_max = 16;       ///< io_uring threads for splices, per worker.


std::uint64_t ud(net::op kind, std::uint32_t index = 0, std::uint32_t generation = 0) noexcept
{
    return net::user_data{kind, index, generation}.encode();
}

} // namespace

loop::loop(const ipc::worker_start& start, const router& routes, std::string& error)
    : start_(start), settings_(*start.settings), pipes_(splice_window, spare_pipes_max),
      timers_(net::monotonic_us() / 1000),
      env_{routes, date_, settings_, stats_, scratch_, false}
{
    now_us_ = net::monotonic_us();
    now_ms_ = now_us_ / 1000;
    date_.update(std::time(nullptr));
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
    buffers_ = net::buffer_ring::create(ring_, buffer_group, settings_.buffer_count, settings_.buffer_size, error);
    if (!error.empty()) {
        ring_ = net::ring();
        return;
    }
    // File reads and splices that would block run on the ring's kernel threads. Bounding
    // them makes a burst of cold files queue for a thread instead of starting one each.
    unsigned iowq_limits[2] = {iowq_bounded_max, iowq_unbounded_max};
    if (const int r = io_uring_register_iowq_max_workers(ring_.get(), iowq_limits); r < 0)
        net::log::warn("{}", net::sys_error("io_uring_register_iowq_max_workers", "worker ring", -r));
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGTTIN, SIGTTOU})
        sigaddset(&set, s);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signal_fd_.reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signal_fd_) {
        error = net::sys_error("signalfd", "worker", errno);
        ring_ = net::ring();
        return;
    }
    if (!settings_.access_log.empty()) {
        access_log_ = access_log::open(settings_.access_log, error);
        if (!error.empty()) {
            ring_ = net::ring();
            return;
        }
        env_.log = &access_log_;
    }
    env_.wall_now = std::time(nullptr);
    for (int fd : start.listen_fds)
        listeners_.push_back({fd, false});
    conns_.reserve(std::min<std::size_t>(settings_.max_connections, 4096));
}

int loop::run()
{
    for (std::uint32_t i = 0; i < listeners_.size(); ++i)
        arm_accept(i);
    arm_signal();
    arm_channel();
    io_uring_submit(ring_.get());
    if (start_.share) {
        start_.share->slots[start_.slot].live.store(1, std::memory_order_relaxed);
        window_.reset(*start_.share, ipc::max_slots);
    }
    send_to_master(ipc::msg_type::ready);
    next_stats_ms_ = now_ms_ + settings_.stats_interval_ms;
    next_window_ms_ = now_ms_ + window_ms;

    for (;;) {
        flush();
        buffers_.publish();
        if (stop_now_ || (draining_ && !retiring_ && open_ == 0))
            break;
        __kernel_timespec ts = wait_time();
        io_uring_cqe* cqe = nullptr;
        const int rc = io_uring_submit_and_wait_timeout(ring_.get(), &cqe, 1, &ts, nullptr);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY)
            net::log::error("{}", net::sys_error("io_uring_submit_and_wait_timeout", "worker ring", -rc));
        now_us_ = net::monotonic_us();
        now_ms_ = now_us_ / 1000;
        unsigned head = 0, seen = 0;
        io_uring_for_each_cqe(ring_.get(), head, cqe)
        {
            handle(*cqe);
            ++seen;
        }
        io_uring_cq_advance(ring_.get(), seen);
        tick();
    }
    if (start_.share)
        start_.share->slots[start_.slot].live.store(0, std::memory_order_relaxed);
    io_uring_submit(ring_.get()); // closes queued in the last turn
    access_log_.flush();
    stats_.connections_open = open_;
    send_to_master(draining_ && open_ == 0 ? ipc::msg_type::drained : ipc::msg_type::stats);
    return 0;
}

// Every completion is decoded here, once; each operation has one handler.
void loop::handle(const io_uring_cqe& cqe)
{
    const net::user_data u = net::user_data::decode(cqe.user_data);
    switch (u.kind) {
    case net::op::accept:
        on_accept(u.index, cqe);
        return;
    case net::op::recv:
    case net::op::send:
    case net::op::file_read:
    case net::op::file_splice:
    case net::op::send_ready:
    case net::op::task_send:
    case net::op::task_recv: {
        connection* c = u.index < conns_.size() ? &conns_[u.index] : nullptr;
        if (!c || !c->in_use() || (c->generation & net::user_data::generation_mask) != u.generation) {
            // A completion for a connection already gone can still carry a buffer.
            if (cqe.flags & IORING_CQE_F_BUFFER)
                buffers_.recycle(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
            return;
        }
        if (u.kind == net::op::recv)
            on_recv(*c, u.index, cqe);
        else if (u.kind == net::op::send)
            on_send(*c, u.index, cqe);
        else if (u.kind == net::op::file_read)
            on_file_read(*c, u.index, cqe);
        else if (u.kind == net::op::file_splice)
            on_file_splice(*c, u.index, cqe);
        else if (u.kind == net::op::send_ready)
            on_send_ready(*c, u.index, cqe);
        else if (u.kind == net::op::task_send)
            on_task_send(*c, u.index, cqe);
        else
            on_task_recv(*c, u.index, cqe);
        return;
    }
    case net::op::signal:
        on_signal(cqe);
        return;
    case net::op::channel:
        on_channel(cqe);
        return;
    case net::op::close:
        if (cqe.res < 0)
            net::log::error("{}", net::sys_error("close", "connection", -cqe.res));
        return;
    default:
        return; // cancel and other bookkeeping completions carry nothing to act on
    }
}

// A shared listener gets one single-shot accept at a time: a multishot accept would take
// the whole backlog in one wake-up, and its waiter stays first in the socket's queue, so
// one worker would win every connection. Armed one at a time, waiters take turns.
void loop::arm_accept(std::uint32_t index)
{
    io_uring_sqe* sqe = ring_.sqe();
    if (settings_.shared_accept)
        io_uring_prep_accept(sqe, listeners_[index].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    else
        io_uring_prep_multishot_accept(sqe, listeners_[index].fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud(net::op::accept, index));
    listeners_[index].armed = true;
}

// Accept: a multishot accept stays armed while CQEs carry IORING_CQE_F_MORE; when one
// does not (error, cancel, overflow), it is re-armed unless accepting is paused.
void loop::on_accept(std::uint32_t index, const io_uring_cqe& cqe)
{
    listener& l = listeners_[index];
    if (!(cqe.flags & IORING_CQE_F_MORE))
        l.armed = false;
    if (cqe.res >= 0) {
        // Accepted before the cancel took effect: serve it like any other (while draining,
        // its response says Connection: close). Closing it would fail a client that did
        // nothing wrong.
        {
            open_connection(cqe.res);
            ++stats_.connections_accepted;
            if (start_.share)
                start_.share->slots[start_.slot].accepted.fetch_add(1, std::memory_order_relaxed);
            if (open_ >= settings_.max_connections)
                pause_accept(pause_reason::limit);
            else if (start_.share && ipc::over_fair_share(*start_.share, ipc::max_slots, start_.slot, window_))
                pause_accept(pause_reason::balance);
        }
    } else if (cqe.res == -EMFILE || cqe.res == -ENFILE || cqe.res == -ENOMEM || cqe.res == -ENOBUFS) {
        net::log::error("{} (pausing accept)", net::sys_error("accept", fmt::format("fd={}", l.fd), -cqe.res));
        pause_accept(pause_reason::error);
    }
    if (!l.armed && paused_ == pause_reason::none && !draining_)
        arm_accept(index);
}

void loop::pause_accept(pause_reason why)
{
    if (paused_ == pause_reason::none)
        for (std::uint32_t i = 0; i < listeners_.size(); ++i)
            if (listeners_[i].armed) {
                io_uring_sqe* sqe = ring_.sqe();
                io_uring_prep_cancel64(sqe, ud(net::op::accept, i), 0);
                io_uring_sqe_set_data64(sqe, ud(net::op::cancel));
            }
    paused_ = why;
}

void loop::maybe_resume_accept()
{
    if (draining_)
        return;
    switch (paused_) {
    case pause_reason::none:
        return;
    case pause_reason::limit:
        if (open_ >= settings_.max_connections - settings_.max_connections / 10 && open_ > 0)
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
            arm_accept(i);
}

std::uint32_t loop::open_connection(int fd)
{
    std::uint32_t index;
    if (!free_.empty()) {
        index = free_.back();
        free_.pop_back();
    } else {
        index = static_cast<std::uint32_t>(conns_.size());
        conns_.emplace_back();
    }
    connection& c = conns_[index];
    const std::uint32_t generation = c.generation + 1;
    c = connection{};
    c.fd = fd;
    c.generation = generation;
    if (access_log_.enabled()) {
        sockaddr_storage peer{};
        socklen_t len = sizeof peer;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
            net::address a;
            a.storage = peer;
            a.length = len;
            std::string text = a.to_string();
            c.session.set_peer(text.substr(0, text.rfind(':')));
        }
    }
    ++open_;
    stats_.connections_open = open_;
    if (start_.share)
        start_.share->slots[start_.slot].open.store(open_, std::memory_order_relaxed);
    arm_recv(c, index);
    update_deadline(c, index);
    return index;
}

void loop::arm_recv(connection& c, std::uint32_t index)
{
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffer_group;
    io_uring_sqe_set_data64(sqe, ud(net::op::recv, index, c.generation));
    c.recv_armed = true;
}

// Receive: each CQE carries one provided buffer, recycled before this handler returns
// (the session copies what it must keep). The multishot recv stays armed while CQEs
// carry IORING_CQE_F_MORE; when one does not and the peer has not closed, it is re-armed
// at the end of the turn, after recycled buffers are published (ENOBUFS ends it too).
void loop::on_recv(connection& c, std::uint32_t index, const io_uring_cqe& cqe)
{
    if (!(cqe.flags & IORING_CQE_F_MORE))
        c.recv_armed = false;
    const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
    const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);

    if (cqe.res > 0) {
        stats_.bytes_in += std::uint64_t(cqe.res);
        if (!c.closing && !c.lingering) {
            take_spare_block(c);
            const std::uint64_t before = stats_.requests + stats_.parse_errors;
            const auto verdict =
                c.session.on_data({buffers_.data(bid), std::size_t(cqe.res)}, c.out, env_, now_ms_);
            c.responses_in_send += static_cast<std::uint32_t>(stats_.requests + stats_.parse_errors - before);
            if (verdict == http_session::verdict::close_after_send)
                c.close_after_send = true;
            if (!c.out.empty() && c.arrived_us == 0)
                c.arrived_us = now_us_;
            after_session(c, index);
            if (c.session.buffered() > held_input_max + settings_.limits.max_header_bytes + settings_.limits.max_body)
                begin_close(c, index, false); // pipelining without reading, beyond every bound
            else if (!c.output_empty())
                queue_flush(c, index);
            else if (c.close_after_send && !c.send_inflight && !c.session.waiting())
                begin_close(c, index, true);
        }
        if (has_buffer)
            buffers_.recycle(bid);
        if (!c.recv_armed && !c.closing) {
            c.rearm_recv = true;
            queue_flush(c, index);
        }
    } else {
        if (has_buffer)
            buffers_.recycle(bid);
        if (cqe.res == -ENOBUFS && !c.closing) {
            c.rearm_recv = true;
            queue_flush(c, index);
        } else if (cqe.res == 0) {
            // The peer finished sending: answer what it asked, then close.
            c.peer_eof = true;
            if (c.lingering || (c.output_empty() && !c.send_inflight && !c.session.waiting()))
                begin_close(c, index, false);
            else
                c.close_after_send = true;
        } else if (cqe.res != -ECANCELED || !c.closing) {
            begin_close(c, index, false);
        }
    }
    finish_close_if_done(c, index);
    update_deadline(c, index);
}

void loop::take_spare_block(connection& c)
{
    if (c.out.capacity() == 0 && !spare_out_.empty()) {
        c.out = std::move(spare_out_.back());
        spare_out_.pop_back();
    }
}

void loop::queue_flush(connection& c, std::uint32_t index)
{
    if (!c.queued) {
        c.queued = true;
        flush_list_.push_back(index);
    }
}

// Every connection that produced output this turn gets one send carrying all of it. The
// send takes `out` over as `wire`, which nothing touches until the send completes: output
// produced meanwhile (pipelined requests, a task's answer) goes to a fresh `out`.
void loop::flush()
{
    for (std::uint32_t index : flush_list_) {
        connection& c = conns_[index];
        c.queued = false;
        if (!c.in_use() || c.closing)
            continue;
        if (c.rearm_recv && !c.recv_armed && !c.peer_eof) {
            arm_recv(c, index);
            c.rearm_recv = false;
        }
        if (!c.send_inflight && !c.read_inflight && !c.poll_inflight && c.piped == 0 && !c.output_empty()) {
            if (c.wire.empty())
                std::swap(c.wire, c.out);
            io_uring_sqe* sqe = ring_.sqe();
            // A head whose body is spliced next waits (MSG_MORE) to leave with the body's
            // first bytes rather than in a segment of its own.
            const int more = c.pipe.valid() && c.session.stream() ? MSG_MORE : 0;
            io_uring_prep_send(sqe, c.fd, c.wire.data(), c.wire.size(), MSG_NOSIGNAL | more);
            io_uring_sqe_set_data64(sqe, ud(net::op::send, index, c.generation));
            c.send_inflight = true;
            update_deadline(c, index);
        }
    }
    flush_list_.clear();
}

// Send: at most one in flight per connection; a short send leaves the rest in `out` for
// the next turn. When everything is out, the block returns to the spare pool.
void loop::on_send(connection& c, std::uint32_t index, const io_uring_cqe& cqe)
{
    c.send_inflight = false;
    if (cqe.res == -ECANCELED && !c.closing) {
        queue_flush(c, index); // its linked file read came up short: send what was read
        return;
    }
    if (cqe.res < 0) {
        begin_close(c, index, false);
        finish_close_if_done(c, index);
        return;
    }
    stats_.bytes_out += std::uint64_t(cqe.res);
    c.wire.consume(std::size_t(cqe.res));
    if (!c.output_empty())
        queue_flush(c, index);
    else
        output_sent(c, index);
    finish_close_if_done(c, index);
    update_deadline(c, index);
}

// Everything queued for the peer is out: time the responses it carried, then go on with
// the body being streamed or the requests held back, or, with nothing left, hand the
// output block back to the spare pool and close if that was asked for.
void loop::output_sent(connection& c, std::uint32_t index)
{
    const std::uint64_t took = now_us_ - c.arrived_us;
    for (std::uint32_t i = 0; i < c.responses_in_send; ++i)
        stats_.latency.record(took);
    c.responses_in_send = 0;
    c.arrived_us = 0;
    if (c.session.stream())
        pump_stream(c, index);
    else if (c.session.mid_request() && !c.closing && !c.session.closed())
        resume_session(c, index); // input held back while output was over the high-water mark
    if (c.output_empty() && !c.read_inflight) {
        for (net::byte_buffer* b : {&c.wire, &c.out}) {
            if (b->capacity() > 0 && b->capacity() <= spare_block_max && spare_out_.size() < spare_out_max) {
                b->clear();
                spare_out_.push_back(std::move(*b));
            }
            b->release();
        }
        c.session.trim();
        if (c.close_after_send && !c.session.waiting())
            begin_close(c, index, !c.peer_eof && !c.session.client_closes());
    }
}

void loop::resume_session(connection& c, std::uint32_t index)
{
    const std::uint64_t before = stats_.requests + stats_.parse_errors;
    if (c.session.resume(c.out, env_, now_ms_) == http_session::verdict::close_after_send)
        c.close_after_send = true;
    c.responses_in_send += static_cast<std::uint32_t>(stats_.requests + stats_.parse_errors - before);
    if (!c.out.empty()) {
        if (c.arrived_us == 0)
            c.arrived_us = now_us_;
        queue_flush(c, index);
    }
    after_session(c, index);
}

void loop::after_session(connection& c, std::uint32_t index)
{
    if (c.session.task() && !c.task)
        start_task(c, index);
    if (c.session.stream())
        pump_stream(c, index);
}

// Tasks: the job goes to the pool over a fresh Unix connection. The pool's listen backlog
// is the queue, so a full queue refuses the non-blocking connect at once (503). The
// request is sent with io_uring; a synchronous job then waits for the job_result and its
// output is streamed from the spool like a file; an async job is answered 202 at once.
void loop::start_task(connection& c, std::uint32_t index)
{
    task_job& job = *c.session.task();
    if (settings_.task_pool.empty()) {
        answer_task(c, index, 503, "task pool not configured");
        return;
    }
    sockaddr_un addr{};
    socklen_t len = 0;
    if (!ipc::task_pool_sockaddr(settings_.task_pool, addr, len)) {
        answer_task(c, index, 503, "task pool unavailable");
        return;
    }
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
        const int err = errno;
        if (fd >= 0)
            ::close(fd);
        ++stats_.tasks_rejected;
        answer_task(c, index, 503, err == EAGAIN ? "task queue full" : "task pool unavailable");
        return;
    }
    if (job.async) {
        // The job is visible as queued before the client can ask for it.
        const int marker = ::open(ipc::spool_path(settings_.task_spool, job.id, ".run").c_str(),
                                  O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (marker >= 0)
            ::close(marker);
    }
    c.task = std::make_unique<task_call>();
    c.task->fd = fd;
    c.task->payload = std::move(job.payload);
    ++stats_.tasks_submitted;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_send(sqe, fd, c.task->payload.data(), c.task->payload.size(), MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud(net::op::task_send, index, c.generation));
    c.task->send_inflight = true;
    update_deadline(c, index);
}

void loop::on_task_send(connection& c, std::uint32_t index, const io_uring_cqe& cqe)
{
    task_call& t = *c.task;
    t.send_inflight = false;
    if (c.closing) {
        finish_close_if_done(c, index);
        return;
    }
    if (cqe.res < 0) {
        end_task(c);
        answer_task(c, index, 503, "task pool unavailable");
        return;
    }
    t.sent += std::size_t(cqe.res);
    io_uring_sqe* sqe = ring_.sqe();
    if (t.sent < t.payload.size()) {
        io_uring_prep_send(sqe, t.fd, t.payload.data() + t.sent, t.payload.size() - t.sent, MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, ud(net::op::task_send, index, c.generation));
        t.send_inflight = true;
        return;
    }
    t.payload = std::string();
    if (c.session.task()->async) {
        const std::string id = c.session.task()->id;
        end_task(c);
        http::response_writer w(c.out, date_, c.session.task()->context);
        w.start(202);
        w.header("Location", "/tasks/jobs/" + id);
        w.header("Content-Type", "application/json");
        w.finish(fmt::format("{{\"id\":\"{0}\",\"location\":\"/tasks/jobs/{0}\"}}\n", id));
        task_answered(c, index, 202, w.body_length());
        return;
    }
    io_uring_prep_recv(sqe, t.fd, t.result, sizeof t.result, MSG_WAITALL);
    io_uring_sqe_set_data64(sqe, ud(net::op::task_recv, index, c.generation));
    t.recv_inflight = true;
}

void loop::on_task_recv(connection& c, std::uint32_t index, const io_uring_cqe& cqe)
{
    task_call& t = *c.task;
    t.recv_inflight = false;
    if (c.closing) {
        finish_close_if_done(c, index);
        return;
    }
    ipc::job_result r;
    if (cqe.res != static_cast<int>(sizeof r)) {
        end_task(c);
        answer_task(c, index, 502, "task runner failed");
        return;
    }
    std::memcpy(&r, t.result, sizeof r);
    end_task(c);
    const task_job& job = *c.session.task();
    http::response_writer w(c.out, date_, job.context);
    const file_body body = write_job_response(w, settings_.task_spool, job.id,
                                              {ipc::job_status(r.outcome), r.exit_code, r.signal, r.elapsed_ms}, false);
    task_answered(c, index, w.status(), w.body_length());
    if (body.file) {
        c.session.task_done(body);
        pump_stream(c, index);
    }
}

// Ends the task part of a request with an error response of `status`.
void loop::answer_task(connection& c, std::uint32_t index, unsigned status, std::string_view why)
{
    http::response_writer w(c.out, date_, c.session.task()->context);
    w.start(status);
    w.header("Content-Type", "text/plain; charset=utf-8");
    if (status == 503)
        w.header("Retry-After", "1");
    std::string text(why);
    text += '\n';
    w.finish(text);
    task_answered(c, index, status, text.size());
}

// The task's response is written: count and log it, then let later requests run.
void loop::task_answered(connection& c, std::uint32_t index, unsigned status, std::uint64_t body_bytes)
{
    const task_job& job = *c.session.task();
    stats_.count_response(status);
    ++stats_.requests;
    if (access_log_.enabled()) {
        http::request logged;
        logged.method_text = job.method;
        logged.target = job.target;
        access_log_.record(c.session.peer(), logged, status, body_bytes, env_.wall_now);
    }
    c.session.task_done({});
    if (c.arrived_us == 0)
        c.arrived_us = now_us_;
    ++c.responses_in_send;
    queue_flush(c, index);
    update_deadline(c, index);
}

void loop::end_task(connection& c) noexcept
{
    if (c.task && c.task->fd >= 0)
        ::close(c.task->fd);
    c.task.reset();
}

// Streaming a file body: a whole small file already in memory is appended at once; a
// large one is spliced through a pipe (below); otherwise one read of at most
// `stream_chunk` bytes into the output buffer, linked to one send, then the next pair once
// that send is done. Nothing appends to the buffer while they are in flight, so it never
// moves under the kernel, and a slow reader costs one window of memory.
void loop::pump_stream(connection& c, std::uint32_t index)
{
    file_body* b = c.session.stream();
    if (!b || c.read_inflight || c.send_inflight || c.poll_inflight || c.closing)
        return;
    if (b->length == 0 && !next_part(c, *b)) {
        // The closing delimiter of a multipart body is in `out`: the body is complete.
        c.session.stream_done();
        pipes_.release(std::exchange(c.pipe, {}));
        queue_flush(c, index);
        return;
    }
    open_file& f = *b->file;
    if (f.content_loaded && b->offset + b->length <= f.content.size()) {
        do
            c.out.append(f.content.data() + b->offset, b->length);
        while (next_part(c, *b));
        c.session.stream_done();
        queue_flush(c, index);
        if (c.session.mid_request() && !c.session.closed())
            resume_session(c, index);
        return;
    }
    if (!c.pipe.valid() && b->length >= splice_min)
        c.pipe = pipes_.acquire(); // none to be had (descriptor limit): read it instead
    if (c.pipe.valid()) {
        if (c.piped > 0)
            splice_to_socket(c, index);
        else if (!c.output_empty())
            queue_flush(c, index); // the head goes first
        else
            splice_from_file(c, index, *b);
        return;
    }
    if (!c.wire.empty() || c.out.size() >= stream_chunk) {
        queue_flush(c, index);
        return;
    }
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(b->length, stream_chunk - c.out.size()));
    take_spare_block(c);
    // The read lands behind the output so far, in `wire`, and is linked to the send of all
    // of it, so a chunk leaves in the same submission it was read in. A short read cancels
    // the send (-ECANCELED), and the committed bytes then go out with an ordinary send.
    std::swap(c.wire, c.out);
    char* tail = c.wire.reserve_tail(n);
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_read(sqe, f.fd.get(), tail, static_cast<unsigned>(n), b->offset);
    io_uring_sqe_set_data64(sqe, ud(net::op::file_read, index, c.generation));
    sqe->flags |= IOSQE_IO_LINK;
    c.read_inflight = true;
    sqe = ring_.sqe();
    io_uring_prep_send(sqe, c.fd, c.wire.data(), c.wire.size() + n, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud(net::op::send, index, c.generation));
    c.send_inflight = true;
}

// A file read or splice completed with `res`: the body it feeds, or null when the
// connection is closing or the step failed. A failure (the file shrank or broke under us)
// closes the connection: the length promised in the head cannot be kept.
file_body* loop::file_step_done(connection& c, std::uint32_t index, int res, std::string_view call)
{
    c.read_inflight = false;
    file_body* b = c.session.stream();
    if (c.closing || !b) {
        finish_close_if_done(c, index);
        return nullptr;
    }
    if (res <= 0) {
        net::log::error("{}", net::sys_error(call, "static file", res < 0 ? -res : EIO));
        begin_close(c, index, false);
        finish_close_if_done(c, index);
        return nullptr;
    }
    return b;
}

// File read: the bytes landed at the tail of `wire`; commit them and send. A whole small
// file read in one go is kept in the cache entry, so later requests skip the read.
void loop::on_file_read(connection& c, std::uint32_t index, const io_uring_cqe& cqe)
{
    file_body* b = file_step_done(c, index, cqe.res, "read");
    if (!b)
        return;
    const auto got = static_cast<std::size_t>(cqe.res);
    open_file& f = *b->file;
    if (b->offset == 0 && got == f.size && f.size <= file_cache::small_max && !f.content_loaded) {
        f.content.assign(c.wire.data() + c.wire.size(), got);
        f.content_loaded = true;
    }
    c.wire.commit(got);
    b->offset += got;
    b->length -= std::min<std::uint64_t>(b->length, got);
    if (b->length == 0 && !b->multipart)
        c.session.stream_done(); // a multipart body goes on once this send is done
    if (!c.send_inflight)
        queue_flush(c, index);
    update_deadline(c, index);
}

// Between the parts of a multipart body: the next part's head goes to `out` and its range
// becomes the one to stream; after the last, the closing delimiter. False when no part is
// left (always, for a single body). Only called with no send in flight, so appending
// cannot move `out` under the kernel.
bool loop::next_part(connection& c, file_body& b)
{
    multipart_body* m = b.multipart.get();
    if (!m)
        return false;
    take_spare_block(c);
    if (m->next < m->parts.size()) {
        const multipart_body::part& p = m->parts[m->next++];
        c.out.append(p.head);
        b.offset = p.offset;
        b.length = p.length;
        return true;
    }
    c.out.append(m->trailer);
    m->trailer.clear();
    return false;
}

// Splicing a large body: io_uring moves up to a pipe's worth of the file's pages into the
// connection's pipe (by reference; the kernel runs it off the loop, where waiting for the
// disk is harmless), then a non-blocking splice moves them from the pipe into the socket.
// When the socket is full, the rest waits in the pipe for POLLOUT. No byte of the body is
// copied through the worker, and a slow reader holds one pipe of page references.
void loop::splice_from_file(connection& c, std::uint32_t index, file_body& b)
{
    const auto n = static_cast<unsigned>(std::min<std::uint64_t>(b.length, c.pipe.capacity));
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_splice(sqe, b.file->fd.get(), static_cast<std::int64_t>(b.offset), c.pipe.write_end.get(), -1, n, 0);
    io_uring_sqe_set_data64(sqe, ud(net::op::file_splice, index, c.generation));
    c.read_inflight = true;
}

void loop::on_file_splice(connection& c, std::uint32_t index, const io_uring_cqe& cqe)
{
    if (cqe.res > 0)
        c.piped += static_cast<std::uint32_t>(cqe.res); // in the pipe, whatever happens next
    file_body* b = file_step_done(c, index, cqe.res, "splice");
    if (!b)
        return;
    const auto got = static_cast<std::uint32_t>(cqe.res);
    b->offset += got;
    b->length -= std::min<std::uint64_t>(b->length, got);
    splice_to_socket(c, index);
    update_deadline(c, index);
}

void loop::splice_to_socket(connection& c, std::uint32_t index)
{
    const file_body* b = c.session.stream();
    const unsigned more = b && b->length > 0 ? SPLICE_F_MORE : 0;
    const ssize_t n = ::splice(c.pipe.read_end.get(), nullptr, c.fd, nullptr, c.piped, SPLICE_F_NONBLOCK | more);
    if (n > 0) {
        c.piped -= static_cast<std::uint32_t>(n);
        stats_.bytes_out += std::uint64_t(n);
    } else if (n < 0 && errno != EAGAIN) {
        begin_close(c, index, false); // the peer is gone (EPIPE, ECONNRESET)
        finish_close_if_done(c, index);
        return;
    }
    if (c.piped > 0) {
        io_uring_sqe* sqe = ring_.sqe();
        io_uring_prep_poll_add(sqe, c.fd, POLLOUT);
        io_uring_sqe_set_data64(sqe, ud(net::op::send_ready, index, c.generation));
        c.poll_inflight = true;
        return;
    }
    if (b && b->length > 0) {
        splice_from_file(c, index, *c.session.stream());
        return;
    }
    if (b && b->multipart) {
        pump_stream(c, index); // the next part, or the closing delimiter
        return;
    }
    c.session.stream_done();
    pipes_.release(std::exchange(c.pipe, {}));
    output_sent(c, index);
    finish_close_if_done(c, index);
}

void loop::on_send_ready(connection& c, std::uint32_t index, const io_uring_cqe& cqe)
{
    c.poll_inflight = false;
    if (c.closing || cqe.res < 0) {
        begin_close(c, index, false);
        finish_close_if_done(c, index);
        return;
    }
    splice_to_socket(c, index);
    update_deadline(c, index);
}

// Closing. Graceful: shut the write side so the last response is delivered whole, and
// keep reading (discarding) until the peer's FIN or the linger deadline, so unread input
// never turns the close into a reset. Otherwise: cancel what is outstanding on the socket
// and close once every operation has completed, so no buffer is freed under the kernel.
void loop::begin_close(connection& c, std::uint32_t index, bool graceful)
{
    if (c.closing)
        return;
    if (graceful && !c.peer_eof) {
        if (!c.lingering) {
            ::shutdown(c.fd, SHUT_WR);
            c.lingering = true;
            c.deadline = deadline_kind::linger;
            timers_.set(index, now_ms_ + linger_ms);
            if (!c.recv_armed) {
                c.rearm_recv = true;
                queue_flush(c, index);
            }
        }
        return;
    }
    c.closing = true;
    if (c.ops_pending()) {
        io_uring_sqe* sqe = ring_.sqe();
        io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, ud(net::op::cancel));
        if (c.task && (c.task->send_inflight || c.task->recv_inflight)) {
            // The client left: closing the job connection tells the runner to stop the job.
            sqe = ring_.sqe();
            io_uring_prep_cancel_fd(sqe, c.task->fd, IORING_ASYNC_CANCEL_ALL);
            io_uring_sqe_set_data64(sqe, ud(net::op::cancel));
        }
    }
}

void loop::finish_close_if_done(connection& c, std::uint32_t index)
{
    if (!c.closing || c.ops_pending())
        return;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_close(sqe, c.fd);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, ud(net::op::close, index));
    timers_.cancel(index);
    end_task(c);
    pipes_.release(std::exchange(c.pipe, {}));
    c.piped = 0;
    c.out.release();
    c.wire.release();
    c.session = http_session{};
    c.fd = -1;
    c.deadline = deadline_kind::none;
    free_.push_back(index);
    --open_;
    stats_.connections_open = open_;
    if (start_.share)
        start_.share->slots[start_.slot].open.store(open_, std::memory_order_relaxed);
    if (paused_ == pause_reason::limit)
        maybe_resume_accept();
}

// One deadline per connection, chosen from its state. The header deadline counts from a
// request's first byte and never resets on later bytes (slowloris); idle and send
// deadlines move with progress.
void loop::update_deadline(connection& c, std::uint32_t index)
{
    if (!c.in_use() || c.closing) {
        timers_.cancel(index);
        return;
    }
    if (c.lingering)
        return; // set once when lingering began
    std::uint64_t at;
    if (c.task || c.session.task()) {
        c.deadline = deadline_kind::task; // the pool's own timeout ends the job first
        at = now_ms_ + settings_.task_timeout_ms + 5000;
    } else if (c.send_inflight || c.read_inflight || !c.output_empty() || c.session.stream()) {
        c.deadline = deadline_kind::send;
        at = now_ms_ + settings_.send_timeout_ms;
    } else if (c.session.in_body()) {
        c.deadline = deadline_kind::body;
        at = c.session.last_progress_ms() + settings_.body_timeout_ms;
    } else if (c.session.mid_request()) {
        c.deadline = deadline_kind::header;
        at = c.session.request_started_ms() + settings_.header_timeout_ms;
    } else {
        c.deadline = deadline_kind::idle;
        at = now_ms_ + (draining_ ? settings_.drain_idle_ms : settings_.idle_timeout_ms);
    }
    timers_.set(index, at);
}

void loop::on_deadline(std::uint32_t index)
{
    connection& c = conns_[index];
    if (!c.in_use() || c.closing)
        return;
    switch (c.deadline) {
    case deadline_kind::header:
    case deadline_kind::body:
        if (!c.send_inflight && c.output_empty()) {
            take_spare_block(c);
            c.session.timeout(c.out, env_);
            c.close_after_send = true;
            c.arrived_us = now_us_;
            queue_flush(c, index);
            update_deadline(c, index);
            return;
        }
        break;
    case deadline_kind::send:
        ++stats_.timeouts;
        break;
    default:
        break;
    }
    begin_close(c, index, false);
    finish_close_if_done(c, index);
}

void loop::arm_signal()
{
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_read(sqe, signal_fd_.get(), &siginfo_, sizeof siginfo_, 0);
    io_uring_sqe_set_data64(sqe, ud(net::op::signal));
}

void loop::on_signal(const io_uring_cqe& cqe)
{
    if (cqe.res == static_cast<int>(sizeof siginfo_)) {
        switch (siginfo_.ssi_signo) {
        case SIGTERM:
        case SIGQUIT:
            start_drain();
            break;
        case SIGINT:
            stop_now_ = true;
            break;
        case SIGUSR1:
            access_log_.reopen();
            break;
        default:
            break; // the master acts on the rest
        }
    }
    arm_signal();
}

void loop::arm_channel()
{
    if (start_.channel_fd < 0 || !channel_alive_)
        return;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_recv(sqe, start_.channel_fd, &inbox_, sizeof inbox_, 0);
    io_uring_sqe_set_data64(sqe, ud(net::op::channel));
}

void loop::on_channel(const io_uring_cqe& cqe)
{
    if (cqe.res <= 0) {
        // The master is gone (or the channel broke): nobody supervises this worker any more.
        channel_alive_ = false;
        stop_now_ = true;
        return;
    }
    if (ipc::valid_message(&inbox_, cqe.res)) {
        switch (inbox_.type) {
        case ipc::msg_type::drain:
            start_drain();
            break;
        case ipc::msg_type::retire:
            retiring_ = true;
            retire_until_ms_ = now_ms_ + settings_.retire_accept_ms;
            start_drain();
            break;
        case ipc::msg_type::reopen_logs:
            access_log_.reopen();
            break;
        default:
            break;
        }
    }
    arm_channel();
}

void loop::start_drain()
{
    if (draining_)
        return;
    draining_ = true;
    env_.draining = true;
    pause_accept(pause_reason::none);
    if (start_.share)
        start_.share->slots[start_.slot].live.store(0, std::memory_order_relaxed);
    // Idle connections get a short last chance for a request already on its way; busy
    // ones answer their next response with Connection: close.
    for (std::uint32_t i = 0; i < conns_.size(); ++i)
        if (conns_[i].in_use() && !conns_[i].closing)
            update_deadline(conns_[i], i);
}

bool loop::empty_accept_queues()
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
            open_connection(fd);
            ++stats_.connections_accepted;
            if (n == 255)
                empty = false; // more may be queued: look again next tick
        }
    }
    return empty;
}

void loop::send_to_master(ipc::msg_type type)
{
    if (start_.channel_fd < 0 || !channel_alive_)
        return;
    ipc::message m;
    m.type = type;
    m.slot = start_.slot;
    m.generation = start_.generation;
    m.pid = getpid();
    m.stats = stats_;
    (void)ipc::send_message(start_.channel_fd, m); // a full channel only delays a snapshot
}

void loop::tick()
{
    env_.wall_now = std::time(nullptr);
    date_.update(env_.wall_now);
    if (now_ms_ >= next_log_flush_ms_) {
        access_log_.flush(); // at most a second behind
        next_log_flush_ms_ = now_ms_ + 1000;
    }
    timers_.advance(now_ms_, [this](std::uint32_t index) { on_deadline(index); });
    if (start_.share && now_ms_ >= next_window_ms_) {
        window_.reset(*start_.share, ipc::max_slots);
        next_window_ms_ = now_ms_ + window_ms;
    }
    if (paused_ != pause_reason::none)
        maybe_resume_accept();
    if (retiring_ && empty_accept_queues() && now_ms_ >= retire_until_ms_)
        retiring_ = false;
    if (now_ms_ >= next_stats_ms_) {
        send_to_master(ipc::msg_type::heartbeat);
        next_stats_ms_ = now_ms_ + settings_.stats_interval_ms;
    }
}

__kernel_timespec loop::wait_time() const noexcept
{
    std::uint64_t wait = next_stats_ms_ > now_ms_ ? next_stats_ms_ - now_ms_ : 0;
    if (retiring_)
        wait = std::min<std::uint64_t>(wait, 10);
    if (const long t = timers_.next_wait_ms(now_ms_); t >= 0)
        wait = std::min<std::uint64_t>(wait, std::uint64_t(t));
    if (paused_ != pause_reason::none)
        wait = std::min(wait, balance_recheck_ms);
    __kernel_timespec ts{};
    ts.tv_sec = static_cast<long long>(wait / 1000);
    ts.tv_nsec = static_cast<long long>((wait % 1000) * 1'000'000);
    return ts;
}

} // namespace ringfork::worker
