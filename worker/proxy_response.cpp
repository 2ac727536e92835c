// The proxy body source: the upstream's response. The request side, retries and timeouts
// are in proxy_source.cpp.
//
// One receive at a time on the upstream connection: first into room for the head, which is
// parsed and answered to the client with a head ringfork writes itself (write_client_head);
// then the body, decoded from the upstream's framing (length, chunked or until close) and
// re-framed for the client. After each piece is relayed, the next receive waits until the
// client's output has drained (proceed), so a slow client holds back the upstream.
#include "worker/proxy_source.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include <fmt/format.h>

namespace ringfork::worker {

namespace {

constexpr std::size_t head_read = 16 * 1024; ///< Room for a response head's first read.

} // namespace

void proxy_source::receive(source_context& ctx)
{
    const std::size_t want = head_sent_ ? relay_window : head_read;
    char* into = in_.reserve_tail(want);
    io_uring_sqe* sqe = ctx.prep(tag_recv);
    io_uring_prep_recv(sqe, lease_.fd, into, want, 0);
    // Armed as the request leaves, the response cannot be there yet: wait for data first
    // rather than try a read that would fail (Linux 5.19; the worker needs 6.0 anyway).
    if (!response_started_)
        sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
    recv_inflight_ = true;
}

void proxy_source::on_received(source_context& ctx, int res)
{
    if (res < 0 || (res == 0 && framing_ != http::response_framing::until_close) || (res == 0 && !head_sent_)) {
        const std::string what = res < 0 ? "recv: " + std::string(std::strerror(-res))
                                 : !response_started_ ? std::string("closed before responding")
                                 : !head_sent_        ? std::string("closed in the response head")
                                                      : std::string("closed before the response body ended");
        fail(ctx, head_sent_ ? ipc::upstream_failure::truncated : ipc::upstream_failure::closed, what);
        return;
    }
    last_io_ms_ = ctx.env().now_ms;
    if (res == 0) { // a close-delimited body ends here
        upstream_keeps_ = false;
        if (client_ == client_body::chunked)
            ctx.out().append("0\r\n\r\n");
        end(ctx, ending::success);
        return;
    }
    in_.commit(std::size_t(res));
    response_started_ = true;
    if (!head_sent_)
        parse_head(ctx);
    else
        relay(ctx);
}

void proxy_source::parse_head(source_context& ctx)
{
    for (;;) {
        http::response_head h;
        http::response_limits lim;
        lim.max_head_bytes = response_head_max;
        const http::response_result r = http::parse_response(in_.view(), h, facts_.head, lim);
        switch (r.state) {
        case http::response_parse::need_more:
            receive(ctx);
            return;
        case http::response_parse::too_large:
            fail(ctx, ipc::upstream_failure::too_large,
                 fmt::format("response head over {} KiB", response_head_max / 1024));
            return;
        case http::response_parse::malformed:
            fail(ctx, ipc::upstream_failure::malformed, fmt::format("malformed response ({})", r.why));
            return;
        case http::response_parse::complete:
            break;
        }
        if (h.interim()) {
            if (h.status == 101) { // never asked for: Upgrade is not forwarded
                fail(ctx, ipc::upstream_failure::malformed, "malformed response (101 without an upgrade)");
                return;
            }
            in_.consume(r.consumed); // 100, 102, 103: ringfork answered Expect itself
            continue;
        }
        ipc::upstream_stats& s = pool_.stats(upstream_);
        s.latency.record(ctx.env().now_us - started_us_);
        ++s.responses_by_class[h.status / 100 % 6];
        // A body still arriving from the client is not read after this response, so the
        // connection closes after it.
        http::response_context cx = exchange.context;
        const streamed_body b = ctx.body();
        if (b.streamed && !b.complete)
            cx.keep_alive = false;
        http::response_writer w(ctx.out(), ctx.env().date, cx);
        client_ = write_client_head(h, w);
        exchange.context = w.context();
        exchange.status = h.status;
        exchange.body_bytes = 0;
        if (client_ == client_body::close)
            ctx.close_after();
        head_sent_ = true;
        framing_ = h.framing;
        left_ = h.content_length;
        upstream_keeps_ = h.keep_alive;
        if (framing_ == http::response_framing::chunked)
            chunked_ = http::chunked_decoder(~std::uint64_t(0));
        in_.consume(r.consumed); // after the head was written: its fields were views into in_
        relay(ctx);
        return;
    }
}

void proxy_source::relay(source_context& ctx)
{
    bool complete = false;
    switch (framing_) {
    case http::response_framing::none:
        complete = true;
        break;
    case http::response_framing::content_length: {
        const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, in_.size()));
        emit(ctx, in_.data(), n);
        in_.consume(n);
        left_ -= n;
        complete = left_ == 0;
        break;
    }
    case http::response_framing::chunked: {
        // Decoded in place; the client gets the bytes re-chunked (or close-delimited), never
        // the upstream's framing.
        const auto step = chunked_.feed(in_.view(), {in_.data(), in_.size()});
        emit(ctx, in_.data(), step.produced);
        in_.consume(step.consumed);
        if (step.error_status) {
            fail(ctx, ipc::upstream_failure::truncated, "malformed chunked response body");
            return;
        }
        complete = step.done;
        break;
    }
    case http::response_framing::until_close:
        emit(ctx, in_.data(), in_.size());
        in_.clear();
        break;
    }
    if (complete) {
        if (client_ == client_body::chunked)
            ctx.out().append("0\r\n\r\n");
        end(ctx, ending::success);
        return;
    }
    if (ctx.output_pending()) {
        ctx.send();
        awaiting_client_ = true; // proceed() asks for more once it has gone
    } else {
        receive(ctx);
    }
}

void proxy_source::emit(source_context& ctx, const char* p, std::size_t n)
{
    if (n == 0)
        return;
    net::byte_buffer& out = ctx.out();
    if (client_ == client_body::chunked)
        append_chunk_line(out, n);
    out.append(p, n);
    if (client_ == client_body::chunked)
        out.append("\r\n", 2);
    exchange.body_bytes += n;
}

} // namespace ringfork::worker
