// The proxy body source: attempts, the request side, retries and timeouts. The upstream's
// response (receiving, parsing its head, relaying its body) is in proxy_response.cpp.
//
// An attempt: take a connection from the pool (an idle keep-alive one, or connect a new
// one), send the request head (and a body known whole) while a receive waits for the
// response, then the client's streamed body piece by piece, each taken only once the last
// has gone. The response head is parsed and the client's head written by ringfork; the
// body is relayed one receive at a time, the next only once the client's output has
// drained. Whatever ends an attempt (the response done, a failure, a timeout, the client's
// body breaking off) first cancels what is outstanding on the connection and concludes
// once every completion is in, so no op ever outlives the connection it used.
#include "worker/proxy_source.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "net/log.hpp"

namespace ringfork::worker {

namespace {

constexpr std::size_t spare_sources_max = 1024;

/// Memory of finished sources, reused by the next ones (a worker's loop is one thread).
thread_local std::vector<void*> spare_sources;

std::string strerror_text(int err)
{
    return std::strerror(err);
}

} // namespace

void* proxy_source::operator new(std::size_t size)
{
    if (size == sizeof(proxy_source) && !spare_sources.empty()) {
        void* p = spare_sources.back();
        spare_sources.pop_back();
        return p;
    }
    return ::operator new(size);
}

void proxy_source::operator delete(void* p) noexcept
{
    if (spare_sources.size() < spare_sources_max) {
        if (spare_sources.capacity() == 0)
            spare_sources.reserve(spare_sources_max); // once, so pushing never allocates
        spare_sources.push_back(p);
        return;
    }
    ::operator delete(p);
}

proxy_source::proxy_source(upstream_pool& pool, std::uint16_t upstream, net::byte_buffer head,
                           const request_facts& facts)
    : pool_(pool), facts_(facts), request_(std::move(head)), in_(pool.take_buffer()), upstream_(upstream)
{
}

proxy_source::~proxy_source()
{
    // The client left (or the response was cut short): the connection is not reused.
    pool_.release(lease_, false, upstream_balancer::health::neutral);
    give_back_buffers();
}

void proxy_source::give_back_buffers() noexcept
{
    pool_.give_buffer(std::move(request_));
    pool_.give_buffer(std::move(body_out_));
    pool_.give_buffer(std::move(in_));
}

void proxy_source::proceed(source_context& ctx)
{
    if (ctx.closing() || ending_ != ending::none)
        return;
    if (!started_) {
        started_ = true;
        start(ctx);
        return;
    }
    if (head_sent_ && awaiting_client_) {
        awaiting_client_ = false; // the client has it all: read on
        if (!recv_inflight_)
            receive(ctx);
    }
}

// The body's framing upstream is chosen now: a body already whole (or none) goes with
// the head and its length, and the request stays replayable; a body still arriving keeps
// the client's Content-Length, or is chunked when the client chunked it.
void proxy_source::start(source_context& ctx)
{
    started_us_ = ctx.env().now_us;
    last_body_ms_ = ctx.env().now_ms;
    ++pool_.stats(upstream_).requests;
    const streamed_body b = ctx.body();
    if (b.error) {
        client_error_ = b.error;
        answer(ctx, b.error);
        return;
    }
    if (!b.streamed) {
        finish_upstream_head(request_, upstream_body::none);
    } else if (b.complete) {
        finish_upstream_head(request_, upstream_body::length, b.available);
        (void)ctx.take_body(request_, b.available);
    } else {
        streaming_body_ = true;
        body_out_ = pool_.take_buffer();
        body_chunked_ = !facts_.length_known;
        finish_upstream_head(request_, body_chunked_ ? upstream_body::chunked : upstream_body::length, facts_.length);
    }
    attempt(ctx, false);
}

void proxy_source::attempt(source_context& ctx, bool fresh)
{
    const upstream_pool::refusal r = pool_.acquire(upstream_, tried_, fresh, lease_);
    if (r != upstream_pool::refusal::none) {
        if (r == upstream_pool::refusal::capacity) {
            pool_.failed(upstream_, ipc::upstream_failure::capacity, "connection limit reached (--max-connections)");
            answer(ctx, 503);
        } else if (r == upstream_pool::refusal::no_address && attempts_ == 0) {
            pool_.failed(upstream_, ipc::upstream_failure::no_address, "no address to send the request to");
            answer(ctx, 503);
        } else {
            answer(ctx, status_); // the last attempt's failure stands
        }
        return;
    }
    ++attempts_;
    tried_ |= upstream_balancer::tried_set(1) << lease_.endpoint;
    request_sent_ = 0;
    response_started_ = false;
    last_io_ms_ = ctx.env().now_ms;
    if (lease_.reused) {
        send_request(ctx);
        receive(ctx);
        return;
    }
    connecting_ = true;
    timer_ms_ = ctx.env().now_ms + pool_.timeouts(upstream_).connect_ms;
    io_uring_sqe* sqe = ctx.prep(tag_connect);
    io_uring_prep_connect(sqe, lease_.fd, reinterpret_cast<const sockaddr*>(&lease_.addr), lease_.addr_len);
    connect_inflight_ = true;
}

void proxy_source::on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe)
{
    switch (tag) {
    case tag_connect:
        connect_inflight_ = false;
        break;
    case tag_send:
        send_inflight_ = false;
        break;
    case tag_recv:
        recv_inflight_ = false;
        break;
    default:
        net::log::error("proxy source: completion with unknown tag {} (res {})", tag, cqe.res);
        std::abort();
    }
    if (ctx.closing())
        return; // the client is gone: the destructor closes the connection
    if (ending_ != ending::none) {
        if (!ops_inflight())
            conclude(ctx);
        return;
    }
    switch (tag) {
    case tag_connect:
        on_connected(ctx, cqe.res);
        break;
    case tag_send:
        on_sent(ctx, cqe.res);
        break;
    default:
        on_received(ctx, cqe.res);
        break;
    }
}

void proxy_source::on_connected(source_context& ctx, int res)
{
    connecting_ = false;
    if (res < 0) {
        fail(ctx, ipc::upstream_failure::connect, "connect: " + strerror_text(-res));
        return;
    }
    last_io_ms_ = ctx.env().now_ms;
    send_request(ctx);
    receive(ctx); // a response may come before the whole request has gone
}

void proxy_source::send_request(source_context& ctx)
{
    io_uring_sqe* sqe = ctx.prep(tag_send);
    io_uring_prep_send(sqe, lease_.fd, request_.data() + request_sent_, request_.size() - request_sent_,
                       MSG_NOSIGNAL);
    send_inflight_ = true;
    sending_head_ = true;
}

void proxy_source::on_sent(source_context& ctx, int res)
{
    if (res < 0) {
        if (!response_started_) {
            fail(ctx, ipc::upstream_failure::closed, "send: " + strerror_text(-res));
            return;
        }
        // The upstream stopped reading the request but is answering: its response goes
        // on, the rest of the body does not, and the connection is not reused.
        streaming_body_ = false;
        request_done_ = false;
        return;
    }
    last_io_ms_ = ctx.env().now_ms;
    if (sending_head_) {
        request_sent_ += std::size_t(res);
        if (request_sent_ < request_.size()) {
            send_request(ctx);
            return;
        }
        sending_head_ = false;
    } else {
        body_out_.consume(std::size_t(res));
        if (!body_out_.empty()) {
            io_uring_sqe* sqe = ctx.prep(tag_send);
            io_uring_prep_send(sqe, lease_.fd, body_out_.data(), body_out_.size(), MSG_NOSIGNAL);
            send_inflight_ = true;
            return;
        }
    }
    send_body(ctx);
}

// The client's body, a piece at a time: each piece is taken from the session's window
// only when the last one has gone, so a slow upstream holds back the client.
void proxy_source::send_body(source_context& ctx)
{
    if (!streaming_body_) {
        if (!request_done_) {
            request_done_ = true;
            timer_ms_ = ctx.env().now_ms + pool_.timeouts(upstream_).first_byte_ms;
        }
        return;
    }
    const streamed_body b = ctx.body();
    if (b.error) {
        client_error_ = b.error;
        end(ctx, ending::client_body);
        return;
    }
    body_out_.clear();
    if (b.available > 0) {
        const std::size_t n = std::min(b.available, relay_window);
        if (body_chunked_)
            append_chunk_line(body_out_, n);
        (void)ctx.take_body(body_out_, n);
        if (body_chunked_)
            body_out_.append("\r\n", 2);
        body_spent_ = true;
        last_body_ms_ = ctx.env().now_ms;
    }
    const streamed_body after = ctx.body();
    if (after.complete && after.available == 0) {
        streaming_body_ = false;
        if (body_chunked_)
            body_out_.append("0\r\n\r\n");
    }
    if (body_out_.empty()) {
        if (!streaming_body_)
            send_body(ctx); // a Content-Length body that just ended
        return;           // else body_ready() comes back when the client sends more
    }
    io_uring_sqe* sqe = ctx.prep(tag_send);
    io_uring_prep_send(sqe, lease_.fd, body_out_.data(), body_out_.size(), MSG_NOSIGNAL);
    send_inflight_ = true;
}

void proxy_source::body_ready(source_context& ctx)
{
    if (!started_ || ctx.closing() || ending_ != ending::none)
        return;
    const streamed_body b = ctx.body();
    if (b.error && !head_sent_) {
        client_error_ = b.error;
        end(ctx, ending::client_body);
        return;
    }
    if (b.available > 0 || b.complete)
        last_body_ms_ = ctx.env().now_ms;
    if (streaming_body_ && !connecting_ && !connect_inflight_ && !send_inflight_ && lease_)
        send_body(ctx);
}

void proxy_source::fail(source_context& ctx, ipc::upstream_failure why, std::string_view what)
{
    failure_ = why;
    if (why == ipc::upstream_failure::connect_timeout || why == ipc::upstream_failure::first_byte_timeout ||
        why == ipc::upstream_failure::idle_timeout)
        status_ = 504;
    else
        status_ = 502;
    // A kept connection the upstream had closed is the keep-alive race, not a sign of
    // trouble: it is retried on a fresh connection without a log line.
    const bool stale = lease_.reused && why == ipc::upstream_failure::closed && !response_started_;
    if (!stale)
        pool_.failed(lease_, why, what);
    end(ctx, ending::failure);
}

void proxy_source::end(source_context& ctx, ending how)
{
    ending_ = how;
    if (ops_inflight()) {
        ctx.cancel_fd(lease_.fd);
        return;
    }
    conclude(ctx);
}

// Every op of the attempt has completed. Success: the connection goes back to the pool if
// the exchange left it clean. Failure before any response byte: once on a fresh connection
// if a kept one had been closed under us, then on another address if nothing was sent
// (connect failed) or the request is idempotent, as long as the request is still whole in
// hand; else 502 or 504, or, once the client's head is out, closing the client.
void proxy_source::conclude(source_context& ctx)
{
    const ending how = std::exchange(ending_, ending::none);
    using health = upstream_balancer::health;
    if (how == ending::success) {
        const bool clean = upstream_keeps_ && request_done_ && !streaming_body_ && in_.empty() &&
                           framing_ != http::response_framing::until_close;
        pool_.release(lease_, clean, health::ok);
        give_back_buffers();
        ctx.send();
        ctx.done();
        return;
    }
    if (how == ending::client_body) {
        pool_.release(lease_, false, health::neutral);
        if (head_sent_) {
            ctx.fail();
            return;
        }
        answer(ctx, client_error_);
        return;
    }
    const bool reused = lease_.reused;
    const bool nothing_sent = connecting_ || failure_ == ipc::upstream_failure::connect;
    const bool address_failed = !(reused && failure_ == ipc::upstream_failure::closed) &&
                                (failure_ == ipc::upstream_failure::connect ||
                                 failure_ == ipc::upstream_failure::connect_timeout ||
                                 failure_ == ipc::upstream_failure::closed ||
                                 failure_ == ipc::upstream_failure::first_byte_timeout);
    const bool before_response = !response_started_ && !head_sent_;
    const int endpoint = lease_.endpoint;
    pool_.release(lease_, false, before_response && address_failed ? health::failed : health::neutral);
    connecting_ = false;
    if (head_sent_) {
        ctx.fail(); // the length promised (or the chunked end) cannot be kept
        return;
    }
    const bool whole = !body_spent_;
    if (before_response && whole) {
        if (reused && failure_ == ipc::upstream_failure::closed && !fresh_retry_used_) {
            fresh_retry_used_ = true;
            ++pool_.stats(upstream_).retries;
            tried_ &= ~(upstream_balancer::tried_set(1) << endpoint); // the address is fine, its kept connection was not
            attempt(ctx, true);
            return;
        }
        const bool may_move = nothing_sent || (facts_.idempotent && failure_ != ipc::upstream_failure::first_byte_timeout);
        if (may_move && attempts_ < max_attempts &&
            (failure_ == ipc::upstream_failure::connect || failure_ == ipc::upstream_failure::connect_timeout ||
             failure_ == ipc::upstream_failure::closed)) {
            ++pool_.stats(upstream_).retries;
            attempt(ctx, false);
            return;
        }
    }
    answer(ctx, status_);
}

void proxy_source::answer(source_context& ctx, unsigned status)
{
    http::response_context cx = exchange.context;
    const streamed_body b = ctx.body();
    if (b.streamed && !b.complete)
        cx.keep_alive = false; // its body is not read: the connection closes after this
    http::response_writer w(ctx.out(), ctx.env().date, cx);
    http::write_error(w, status);
    exchange.context = w.context();
    exchange.status = w.status();
    exchange.body_bytes = w.body_length();
    give_back_buffers();
    ctx.send();
    ctx.done();
}

void proxy_source::stop(source_context& ctx) noexcept
{
    if (ops_inflight())
        ctx.cancel_fd(lease_.fd);
}

std::uint64_t proxy_source::deadline_ms(const worker_env& env) const noexcept
{
    if (ending_ != ending::none)
        return env.now_ms + 1000; // cancelled ops complete promptly
    if (awaiting_client_ || !started_)
        return env.now_ms + env.settings.send_timeout_ms;
    const ipc::upstream_timeouts& t = pool_.timeouts(upstream_);
    if (connecting_)
        return timer_ms_;
    // Waiting for the client's body (the upstream has taken all it was given): the body
    // timeout applies, not the upstream's.
    if (streaming_body_ && !send_inflight_ && !response_started_)
        return last_body_ms_ + env.settings.body_timeout_ms;
    if (request_done_ && !response_started_)
        return timer_ms_;
    return last_io_ms_ + t.idle_ms;
}

bool proxy_source::on_deadline(source_context& ctx)
{
    if (ending_ != ending::none || awaiting_client_ || !started_)
        return false; // the client does not read (or cancelled ops hang): close
    const std::uint64_t now = ctx.env().now_ms;
    const ipc::upstream_timeouts& t = pool_.timeouts(upstream_);
    if (connecting_) {
        fail(ctx, ipc::upstream_failure::connect_timeout, fmt::format("connect: timed out after {} ms", t.connect_ms));
    } else if (streaming_body_ && !send_inflight_ && !response_started_) {
        if (now < last_body_ms_ + ctx.env().settings.body_timeout_ms)
            return true;
        ++ctx.env().stats.timeouts;
        client_error_ = 408;
        end(ctx, ending::client_body);
    } else if (request_done_ && !response_started_) {
        if (now < timer_ms_)
            return true;
        fail(ctx, ipc::upstream_failure::first_byte_timeout,
             fmt::format("no response within {} ms", t.first_byte_ms));
    } else {
        if (now < last_io_ms_ + t.idle_ms)
            return true;
        fail(ctx, ipc::upstream_failure::idle_timeout, fmt::format("silent for {} ms", t.idle_ms));
    }
    return true;
}

} // namespace ringfork::worker
