// The worker's connections. What a body source does through its source_context is in
// source_context.cpp.
#include "worker/connections.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <utility>

#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::worker {

namespace {

constexpr std::uint64_t linger_ms = 2000;          ///< Half-closed connection's wait for the peer's FIN.
constexpr std::size_t spare_out_max = 1024;        ///< Pooled output blocks kept for reuse.
constexpr std::size_t spare_block_max = 64 * 1024;
constexpr std::size_t held_input_max = 64 * 1024;  ///< Input held back beyond the limits' own bounds.

} // namespace

connection_table::connection_table(net::ring& ring, net::buffer_ring& buffers, worker_env& env)
    : ring_(ring), buffers_(buffers), env_(env), timers_(env.now_ms)
{
    conns_.reserve(std::min<std::size_t>(env.settings.max_connections, 4096));
}

void connection_table::open(int fd)
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
    if (env_.log || !env_.settings.proxy.routes.empty())
        c.peer = net::peer_ip::of_socket(fd); // the access log and X-Forwarded-For name it
    ++open_;
    env_.stats.connections_open = open_;
    arm_recv(c, index);
    update_deadline(c, index);
}

connection* connection_table::live(const user_data& u, const io_uring_cqe& cqe) noexcept
{
    connection* c = u.index < conns_.size() ? &conns_[u.index] : nullptr;
    if (c && c->in_use() && (c->generation & user_data::generation_mask) == u.generation)
        return c;
    // A completion for a connection already gone can still carry a buffer.
    if (cqe.flags & IORING_CQE_F_BUFFER)
        buffers_.recycle(static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT));
    return nullptr;
}

void connection_table::arm_recv(connection& c, std::uint32_t index)
{
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = buffer_group;
    io_uring_sqe_set_data64(sqe, ud(op::recv, index, c.generation));
    c.recv_armed = true;
}

// Receive: each CQE carries one provided buffer, recycled before this handler returns
// (the session copies what it must keep). The multishot recv stays armed while CQEs
// carry IORING_CQE_F_MORE; when one does not and the peer has not closed, it is re-armed
// at the end of the turn, after recycled buffers are published (ENOBUFS ends it too).
void connection_table::on_recv(const user_data& u, const io_uring_cqe& cqe)
{
    connection* cp = live(u, cqe);
    if (!cp)
        return;
    connection& c = *cp;
    const std::uint32_t index = u.index;
    if (!(cqe.flags & IORING_CQE_F_MORE))
        c.recv_armed = false;
    const bool has_buffer = (cqe.flags & IORING_CQE_F_BUFFER) != 0;
    const auto bid = static_cast<std::uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);

    if (cqe.res > 0) {
        env_.stats.bytes_in += std::uint64_t(cqe.res);
        if (!c.closing && !c.lingering) {
            take_spare_block(c);
            serving(c);
            const auto verdict =
                c.session.on_data({buffers_.data(bid), std::size_t(cqe.res)}, c.out, env_, env_.now_ms);
            if (verdict == http_session::verdict::close_after_send)
                c.close_after_send = true;
            after_session(c, index);
            pump_body(c, index);
            if (!c.session.streaming() && c.session.buffered() > held_input_max +
                                                                   env_.settings.limits.max_header_bytes +
                                                                   env_.settings.limits.max_body)
                begin_close(c, index, false); // pipelining without reading, beyond every bound
            else if (!c.output_empty())
                queue_flush(c, index);
            else if (c.close_after_send && !c.send_inflight && !c.session.waiting())
                begin_close(c, index, true);
        }
        if (has_buffer)
            buffers_.recycle(bid);
        if (!c.recv_armed && !c.closing && !c.session.input_paused()) {
            c.rearm_recv = true;
            queue_flush(c, index);
        }
    } else {
        if (has_buffer)
            buffers_.recycle(bid);
        if ((cqe.res == -ENOBUFS || (cqe.res == -ECANCELED && c.recv_held)) && !c.closing) {
            if (!c.session.input_paused()) { // else pump_body re-arms once the source made room
                c.rearm_recv = true;
                queue_flush(c, index);
            }
        } else if (cqe.res == 0) {
            // The peer finished sending: answer what it asked, then close.
            c.peer_eof = true;
            c.session.end_of_input(env_); // a streamed body cut short breaks off
            pump_body(c, index);
            if (c.lingering || (c.output_empty() && !c.send_inflight && !c.session.waiting()) ||
                (c.source && c.source->abandoned_at_eof()))
                begin_close(c, index, false);
            else
                c.close_after_send = true;
        } else if (cqe.res != -ECANCELED || !c.closing) {
            begin_close(c, index, false);
        }
    }
    if (!c.recv_armed)
        c.recv_held = false;
    finish_close_if_done(c, index);
    update_deadline(c, index);
}

void connection_table::serving(const connection& c) noexcept
{
    env_.peer = &c.peer;
    env_.client_fd = c.fd;
}

void connection_table::take_spare_block(connection& c)
{
    if (c.out.capacity() == 0 && !spare_out_.empty()) {
        c.out = std::move(spare_out_.back());
        spare_out_.pop_back();
    }
}

void connection_table::queue_flush(connection& c, std::uint32_t index)
{
    if (!c.queued) {
        c.queued = true;
        flush_list_.push_back(index);
    }
}

// Every connection that produced output this turn gets one send carrying all of it. The
// send takes `out` over as `wire`, which nothing touches until the send completes: output
// produced meanwhile (pipelined requests, a task's answer) goes to a fresh `out`.
void connection_table::flush()
{
    // By index: a woken source may produce output and queue its connection again, which is
    // then sent in this same pass.
    for (std::size_t i = 0; i < flush_list_.size(); ++i) {
        const std::uint32_t index = flush_list_[i];
        connection& c = conns_[index];
        c.queued = false;
        if (!c.in_use() || c.closing)
            continue;
        if (c.rearm_recv && !c.recv_armed && !c.peer_eof && !c.session.input_paused()) {
            arm_recv(c, index);
            c.rearm_recv = false;
        }
        if (c.wake_source && !c.send_inflight && c.output_empty()) {
            c.wake_source = false;
            output_sent(c, index);
            finish_close_if_done(c, index);
            update_deadline(c, index);
            continue;
        }
        if (!c.send_inflight && !c.output_empty()) {
            if (c.wire.empty())
                std::swap(c.wire, c.out);
            io_uring_sqe* sqe = ring_.sqe();
            // A head whose body is spliced next waits (MSG_MORE) to leave with the body's
            // first bytes rather than in a segment of its own.
            const int more = std::exchange(c.send_more, false) ? MSG_MORE : 0;
            io_uring_prep_send(sqe, c.fd, c.wire.data(), c.wire.size(), MSG_NOSIGNAL | more);
            io_uring_sqe_set_data64(sqe, ud(op::send, index, c.generation));
            c.send_inflight = true;
            update_deadline(c, index);
        }
    }
    flush_list_.clear();
}

// Send: at most one in flight per connection; a short send leaves the rest in `wire` for
// the next turn. When everything is out, the blocks return to the spare pool.
void connection_table::on_send(const user_data& u, const io_uring_cqe& cqe)
{
    connection* cp = live(u, cqe);
    if (!cp)
        return;
    connection& c = *cp;
    const std::uint32_t index = u.index;
    c.send_inflight = false;
    if (cqe.res < 0) {
        begin_close(c, index, false);
        finish_close_if_done(c, index);
        return;
    }
    env_.stats.bytes_out += std::uint64_t(cqe.res);
    c.wire.consume(std::size_t(cqe.res));
    if (!c.output_empty())
        queue_flush(c, index);
    else
        output_sent(c, index);
    finish_close_if_done(c, index);
    update_deadline(c, index);
}

void connection_table::output_sent(connection& c, std::uint32_t index)
{
    c.wake_source = false;
    const std::uint64_t took = env_.now_us - c.arrived_us;
    for (std::uint32_t i = 0; i < c.responses_unsent; ++i)
        env_.stats.latency.record(took);
    c.responses_unsent = 0;
    c.arrived_us = 0;
    if (c.source) {
        source_context ctx(*this, c, index);
        c.source->proceed(ctx);
        settle(c, index);
        return;
    }
    if (c.session.mid_request() && !c.closing && !c.session.closed())
        resume_session(c, index); // input held back while output was over the high-water mark
    if (c.output_empty() && !c.source && !c.closing) {
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

void connection_table::resume_session(connection& c, std::uint32_t index)
{
    take_spare_block(c);
    serving(c);
    if (c.session.resume(c.out, env_, env_.now_ms) == http_session::verdict::close_after_send)
        c.close_after_send = true;
    after_session(c, index);
    if (!c.output_empty())
        queue_flush(c, index);
}

void connection_table::after_session(connection& c, std::uint32_t index)
{
    c.responses_unsent += c.session.take_completed();
    std::unique_ptr<body_source> source = c.session.take_source();
    if ((c.responses_unsent > 0 || source) && c.arrived_us == 0)
        c.arrived_us = env_.now_us; // a source's time (a task's job) is part of its latency
    if (!source)
        return;
    c.source = std::move(source);
    source_context ctx(*this, c, index);
    c.source->proceed(ctx);
    settle(c, index);
}

void connection_table::on_source(const user_data& u, const io_uring_cqe& cqe)
{
    connection* cp = live(u, cqe);
    if (!cp || !cp->source)
        return; // a source's op can only outlive it when its connection is gone
    connection& c = *cp;
    source_context ctx(*this, c, u.index);
    c.source->on_completion(ctx, u.tag, cqe);
    settle(c, u.index);
    update_deadline(c, u.index);
}

void connection_table::settle(connection& c, std::uint32_t index)
{
    if (c.body_taken)
        pump_body(c, index);
    if (c.source_done && c.source) {
        c.source_done = false;
        if (c.source->busy()) {
            // A source may only finish once nothing of it is outstanding: its ops would
            // complete into a freed object.
            net::log::error("body source said done with ops outstanding (connection {})", index);
            std::abort();
        }
        const std::unique_ptr<body_source> done = std::move(c.source);
        serving(c);
        c.session.source_done(*done, env_);
        if (c.session.closed())
            c.close_after_send = true; // its answer closes (HTTP/1.0 stream, error, body left unread)
        c.responses_unsent += c.session.take_completed();
        if (c.arrived_us == 0)
            c.arrived_us = env_.now_us;
        if (c.output_empty() && !c.send_inflight)
            output_sent(c, index); // the body went to the socket directly (spliced)
        else
            queue_flush(c, index);
    }
    finish_close_if_done(c, index);
}

// Backpressure on a streamed request body. The session decodes into a bounded window;
// when it is full, the multishot receive is cancelled (what it still delivers is held by
// the session), so the client's bytes wait in the kernel and then in the client. Once the
// source has taken bytes, held input is decoded into the room and the receive is armed
// again. The source hears of new bytes, the end and errors through body_ready().
void connection_table::pump_body(connection& c, std::uint32_t index)
{
    for (int round = 0; round < 8 && c.source && !c.closing; ++round) {
        if (std::exchange(c.body_taken, false) && c.session.streaming())
            (void)c.session.resume(c.out, env_, env_.now_ms);
        if (!c.session.take_body_event())
            break;
        source_context ctx(*this, c, index);
        c.source->body_ready(ctx);
    }
    if (c.closing || !c.session.streaming() || c.peer_eof)
        return;
    if (c.session.input_paused()) {
        if (c.recv_armed && !c.recv_held) {
            io_uring_sqe* sqe = ring_.sqe();
            io_uring_prep_cancel64(sqe, ud(op::recv, index, c.generation), 0);
            io_uring_sqe_set_data64(sqe, ud(op::cancel));
            c.recv_held = true;
        }
    } else if (!c.recv_armed) {
        c.rearm_recv = true;
        queue_flush(c, index);
    }
}

// Closing. Graceful: shut the write side so the last response is delivered whole, and
// keep reading (discarding) until the peer's FIN or the linger deadline, so unread input
// never turns the close into a reset. Otherwise: stop the source, cancel what is
// outstanding on the socket and close once every operation has completed, so no buffer is
// freed under the kernel.
void connection_table::begin_close(connection& c, std::uint32_t index, bool graceful)
{
    if (c.closing)
        return;
    if (graceful && !c.peer_eof) {
        if (!c.lingering) {
            ::shutdown(c.fd, SHUT_WR);
            c.lingering = true;
            c.deadline = deadline_kind::linger;
            timers_.set(index, env_.now_ms + linger_ms);
            if (!c.recv_armed) {
                c.rearm_recv = true;
                queue_flush(c, index);
            }
        }
        return;
    }
    c.closing = true;
    if (c.source) {
        source_context ctx(*this, c, index);
        c.source->stop(ctx);
    }
    if (c.ops_pending()) {
        io_uring_sqe* sqe = ring_.sqe();
        io_uring_prep_cancel_fd(sqe, c.fd, IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, ud(op::cancel));
    }
}

void connection_table::finish_close_if_done(connection& c, std::uint32_t index)
{
    if (!c.in_use() || !c.closing || c.ops_pending())
        return;
    io_uring_sqe* sqe = ring_.sqe();
    io_uring_prep_close(sqe, c.fd);
    sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
    io_uring_sqe_set_data64(sqe, ud(op::close, index));
    timers_.cancel(index);
    if (c.source && c.source->exchange.status != 0) {
        serving(c);
        c.session.source_done(*c.source, env_); // a response cut short is still counted and logged
    }
    c.source.reset();
    c.out.release();
    c.wire.release();
    c.session = http_session{};
    c.fd = -1;
    c.deadline = deadline_kind::none;
    free_.push_back(index);
    --open_;
    env_.stats.connections_open = open_;
}

// One deadline per connection, chosen from its state. The header deadline counts from a
// request's first byte and never resets on later bytes (slowloris); idle and send
// deadlines move with progress; a body source chooses its own.
void connection_table::update_deadline(connection& c, std::uint32_t index)
{
    if (!c.in_use() || c.closing) {
        timers_.cancel(index);
        return;
    }
    if (c.lingering)
        return; // set once when lingering began
    std::uint64_t at;
    if (c.source) {
        c.deadline = deadline_kind::source;
        at = c.source->deadline_ms(env_);
    } else if (c.send_inflight || !c.output_empty()) {
        c.deadline = deadline_kind::send;
        at = env_.now_ms + env_.settings.send_timeout_ms;
    } else if (c.session.in_body()) {
        c.deadline = deadline_kind::body;
        at = c.session.last_progress_ms() + env_.settings.body_timeout_ms;
    } else if (c.session.mid_request()) {
        c.deadline = deadline_kind::header;
        at = c.session.request_started_ms() + env_.settings.header_timeout_ms;
    } else {
        c.deadline = deadline_kind::idle;
        at = env_.now_ms + (env_.draining ? env_.settings.drain_idle_ms : env_.settings.idle_timeout_ms);
    }
    timers_.set(index, at);
}

void connection_table::fire_deadlines()
{
    timers_.advance(env_.now_ms, [this](std::uint32_t index) { on_deadline(index); });
}

void connection_table::on_deadline(std::uint32_t index)
{
    connection& c = conns_[index];
    if (!c.in_use() || c.closing)
        return;
    switch (c.deadline) {
    case deadline_kind::header:
    case deadline_kind::body:
        if (!c.send_inflight && c.output_empty()) {
            take_spare_block(c);
            serving(c);
            c.session.timeout(c.out, env_);
            c.close_after_send = true;
            after_session(c, index);
            queue_flush(c, index);
            update_deadline(c, index);
            return;
        }
        break;
    case deadline_kind::source: {
        source_context ctx(*this, c, index);
        if (c.source && c.source->on_deadline(ctx)) {
            settle(c, index);
            update_deadline(c, index);
            return;
        }
        ++env_.stats.timeouts;
        break;
    }
    case deadline_kind::send:
        ++env_.stats.timeouts;
        break;
    default:
        break;
    }
    begin_close(c, index, false);
    finish_close_if_done(c, index);
}

void connection_table::start_drain()
{
    for (std::uint32_t i = 0; i < conns_.size(); ++i)
        if (conns_[i].in_use() && !conns_[i].closing)
            update_deadline(conns_[i], i);
}

} // namespace ringfork::worker
