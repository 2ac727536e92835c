// The task body source.
//
// One job socket per request: a SOCK_SEQPACKET pair whose other end goes to the master
// with job_submit. The master writes `queued` (or `rejected`) on it, passes it to a runner
// (which writes `started` and, for ?stream=1, `output`), and writes the final `result`
// itself, so a runner that dies still ends the response. Closing our end tells the master
// the client left (a synchronous job is then cancelled).
#include "worker/task_client.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "ipc/task_channel.hpp"
#include "worker/chunked_body.hpp"
#include "worker/task_routes.hpp"

namespace ringfork::worker {

namespace {

/// Output read from the spool per step when the records did not carry it.
constexpr std::size_t file_step = 64 * 1024;
/// Streaming: more output than this waiting for the client holds back the next record.
constexpr std::size_t stream_high_water = 256 * 1024;

} // namespace

void task_client::proceed(source_context& ctx)
{
    if (!submitted_) {
        submitted_ = true;
        submit(ctx);
        return;
    }
    if (output_) {
        output_->proceed(ctx);
        return;
    }
    // Streaming: what was sent has gone; catch up from the file, or read the next record.
    if (!finished_ && head_written_)
        pump(ctx);
}

void task_client::submit(source_context& ctx)
{
    worker_env& env = ctx.env();
    submitted_ms_ = env.now_ms;
    if (!env.settings.task_pool || env.master_channel < 0) {
        answer(ctx, 503, "task pool not configured");
        return;
    }
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        answer(ctx, 503, "task pool unavailable");
        return;
    }
    fd_.reset(sv[0]);
    const net::unique_fd theirs(sv[1]);
    ipc::worker_task_message m;
    m.type = ipc::worker_task_msg::job_submit;
    m.job = job_.header;
    if (ipc::send_with_fd(env.master_channel, &m, sizeof m, theirs.get()) != 0) {
        fd_.reset();
        answer(ctx, 503, "task pool unavailable");
        return;
    }
    ++env.stats.tasks_submitted;
    packet_.resize(sizeof(ipc::record_head) + sizeof(ipc::output_head) + ipc::record_bytes_max);
    arm_record(ctx);
    if ((job_.header.flags & ipc::job_async) == 0)
        send_body(ctx);
}

// The body goes out as records, one in flight at a time, each a sendmsg of its head and a
// slice of the body (no copy); body_end closes it.
void task_client::send_body(source_context& ctx)
{
    const std::size_t left = job_.body.size() - body_sent_;
    const std::size_t n = std::min(left, ipc::record_bytes_max);
    body_head_ = {};
    body_head_.type = left > 0 ? ipc::record_type::body : ipc::record_type::body_end;
    body_head_.length = static_cast<std::uint32_t>(n);
    body_iov_[0] = {&body_head_, sizeof body_head_};
    body_iov_[1] = {job_.body.data() + body_sent_, n};
    body_msg_ = {};
    body_msg_.msg_iov = body_iov_;
    body_msg_.msg_iovlen = n > 0 ? 2 : 1;
    io_uring_sqe* sqe = ctx.prep(tag_body);
    io_uring_prep_sendmsg(sqe, fd_.get(), &body_msg_, MSG_NOSIGNAL);
    body_inflight_ = true;
}

void task_client::arm_record(source_context& ctx)
{
    io_uring_sqe* sqe = ctx.prep(tag_record);
    io_uring_prep_recv(sqe, fd_.get(), packet_.data(), packet_.size(), 0);
    record_inflight_ = true;
}

void task_client::on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe)
{
    switch (tag) {
    case tag_body:
        body_inflight_ = false;
        if (cqe.res < 0) {
            body_end_sent_ = true; // the job has ended (or its runner left): no more body
        } else if (body_head_.type == ipc::record_type::body) {
            body_sent_ += body_head_.length;
        } else {
            body_end_sent_ = true;
        }
        if (ctx.closing())
            break;
        if (!held_.empty()) {
            // A final record arrived while this send was out: handled now that it is back.
            const std::string held = std::move(held_);
            held_.clear();
            on_packet(ctx, held);
        } else if (!body_end_sent_ && !finished_) {
            send_body(ctx);
        }
        break;
    case tag_record:
        record_inflight_ = false;
        if (!ctx.closing())
            on_record(ctx, cqe.res);
        break;
    default:
        if (output_)
            output_->on_completion(ctx, tag, cqe);
        break;
    }
    settle_if_finished(ctx);
}

void task_client::on_record(source_context& ctx, int res)
{
    if (res <= 0) {
        on_lost(ctx); // the job socket ended without a result: the master went away
        return;
    }
    on_packet(ctx, {packet_.data(), static_cast<std::size_t>(res)});
}

void task_client::on_packet(source_context& ctx, std::string_view packet)
{
    const auto r = ipc::parse_record({packet.data(), packet.size()});
    if (!r) {
        answer(ctx, 502, "malformed record from the task pool");
        return;
    }
    const bool final = r->type == ipc::record_type::result || r->type == ipc::record_type::rejected;
    if (final && body_inflight_) {
        // Our body send must come back before the response can end: hurry it up.
        held_.assign(packet);
        ctx.cancel_fd(fd_.get());
        return;
    }
    switch (r->type) {
    case ipc::record_type::queued:
        if ((job_.header.flags & ipc::job_async) != 0) {
            const std::string id(ipc::text_of(job_.header.id));
            http::response_writer w(ctx.out(), ctx.env().date, exchange.context);
            w.start(202);
            w.header("Location", "/tasks/jobs/" + id);
            w.header("Content-Type", "application/json");
            w.finish(fmt::format("{{\"id\":\"{0}\",\"location\":\"/tasks/jobs/{0}\"}}\n", id));
            exchange.status = w.status();
            exchange.body_bytes = w.body_length();
            finish(ctx);
            return;
        }
        break;
    case ipc::record_type::rejected: {
        const auto why = ipc::payload_as<ipc::rejected_record>(*r).value_or(ipc::rejected_record{});
        answer(ctx, ipc::job_http_status(ipc::job_outcome::rejected, why.reason), ipc::reject_text(why.reason));
        return;
    }
    case ipc::record_type::started:
        if (streaming() && !head_written_) {
            http::response_writer w(ctx.out(), ctx.env().date, exchange.context);
            w.start(200);
            w.header("Content-Type", "application/octet-stream");
            w.header("X-Task-Job", ipc::text_of(job_.header.id));
            finish_chunked_head(w);
            exchange.status = 200;
            head_written_ = true;
            ctx.send();
        }
        break;
    case ipc::record_type::output:
        if (streaming() && head_written_)
            on_output(ctx, *r);
        break;
    case ipc::record_type::result:
        if (const auto result = ipc::payload_as<ipc::result_record>(*r))
            on_result(ctx, *result);
        else
            answer(ctx, 502, "malformed result from the task pool");
        return;
    default:
        break; // progress: only in the job's state for now
    }
    // Streaming to a client that is behind: proceed() reads on once it caught up.
    if (!finished_ && !record_inflight_ && !(streaming() && ctx.out().size() > stream_high_water))
        arm_record(ctx);
}

void task_client::on_output(source_context& ctx, const ipc::record_view& r)
{
    ipc::output_head head;
    if (r.payload.size() < sizeof head)
        return;
    std::memcpy(&head, r.payload.data(), sizeof head);
    const auto bytes = r.payload.subspan(sizeof head);
    known_end_ = std::max<std::uint64_t>(known_end_, head.offset + bytes.size());
    // A record the runner could not send (our socket was full) leaves a gap: those bytes are
    // read from the file by pump(); this record's, when they come next, right away.
    if (head.offset > streamed_ || head.offset + bytes.size() <= streamed_)
        return;
    const auto fresh = bytes.subspan(static_cast<std::size_t>(streamed_ - head.offset));
    append_chunk(ctx.out(), fresh);
    streamed_ += fresh.size();
    ctx.send();
}

void task_client::pump(source_context& ctx)
{
    if (ctx.output_pending())
        return;
    if (streamed_ < known_end_) {
        const ipc::spool* spool = spool_for(job_.spool).get();
        int err = 0;
        const net::unique_fd fd =
            spool ? spool->open_read(ipc::text_of(job_.header.id), ipc::spool::file::out, err) : net::unique_fd{};
        std::string chunk(static_cast<std::size_t>(std::min<std::uint64_t>(known_end_ - streamed_, file_step)), '\0');
        const ssize_t n = fd ? ::pread(fd.get(), chunk.data(), chunk.size(), static_cast<off_t>(streamed_)) : -1;
        if (n > 0) {
            append_chunk(ctx.out(), {chunk.data(), static_cast<std::size_t>(n)});
            streamed_ += static_cast<std::uint64_t>(n);
            ctx.send();
            return;
        }
        known_end_ = streamed_; // the file is gone or shorter: nothing more to read from it
    }
    if (result_) {
        append_last_chunk(ctx.out(), {result_->exit_code, result_->signal, result_->elapsed_ms, result_->timed_out != 0,
                                      ipc::text_of(result_->reason)});
        exchange.body_bytes = streamed_;
        ctx.send();
        finish(ctx);
        return;
    }
    if (!record_inflight_ && fd_)
        arm_record(ctx);
}

void task_client::on_result(source_context& ctx, const ipc::result_record& r)
{
    if (streaming() && head_written_) {
        result_ = r;
        known_end_ = std::max(known_end_, r.output_bytes);
        pump(ctx);
        return;
    }
    http::response_writer w(ctx.out(), ctx.env().date, exchange.context);
    file_body body = write_job_response(w, job_.spool, std::string(ipc::text_of(job_.header.id)),
                                        {ipc::job_http_status(r.outcome, r.rejected), r.exit_code, r.signal,
                                         r.elapsed_ms},
                                        false);
    exchange.status = w.status();
    exchange.body_bytes = w.body_length();
    if (!body.file) {
        ctx.send();
        finish(ctx);
        return;
    }
    finished_ = true;
    fd_.reset(); // nothing of ours is outstanding on it (a final record waits for the body send)
    output_ = std::make_unique<file_stream>(std::move(body));
    output_->proceed(ctx);
}

void task_client::on_lost(source_context& ctx)
{
    answer(ctx, 502, "the task pool went away");
}

void task_client::answer(source_context& ctx, unsigned status, std::string_view why)
{
    if (head_written_) {
        // Mid-stream: the status is out already; the trailers say what happened.
        append_last_chunk(ctx.out(), {-1, 0, 0, false, why});
        exchange.body_bytes = streamed_;
        ctx.send();
        finish(ctx);
        return;
    }
    http::response_writer w(ctx.out(), ctx.env().date, exchange.context);
    w.start(status);
    w.header("Content-Type", "text/plain; charset=utf-8");
    if (status == 503)
        w.header("Retry-After", "1");
    if (job_.header.id[0] != '\0')
        w.header("X-Task-Job", ipc::text_of(job_.header.id));
    std::string text(why);
    text += '\n';
    w.finish(text);
    exchange.status = w.status();
    exchange.body_bytes = w.body_length();
    ctx.send();
    finish(ctx);
}

void task_client::finish(source_context& ctx)
{
    finished_ = true;
    if (fd_ && (body_inflight_ || record_inflight_))
        ctx.cancel_fd(fd_.get());
    settle_if_finished(ctx);
}

void task_client::settle_if_finished(source_context& ctx)
{
    // done() only once nothing of ours is outstanding; a file_stream says done itself.
    if (!finished_ || output_ || said_done_ || body_inflight_ || record_inflight_)
        return;
    fd_.reset();
    said_done_ = true;
    ctx.done();
}

// The client left: cancelling the ops on the job socket, then closing it (the table
// destroys the source once they are back), tells the master, which cancels a synchronous job.
void task_client::stop(source_context& ctx) noexcept
{
    if (fd_ && (body_inflight_ || record_inflight_))
        ctx.cancel_fd(fd_.get());
    if (output_)
        output_->stop(ctx);
}

bool task_client::busy() const noexcept
{
    return body_inflight_ || record_inflight_ || (output_ && output_->busy());
}

std::uint64_t task_client::deadline_ms(const worker_env& env) const noexcept
{
    if (output_)
        return output_->deadline_ms(env);
    if (head_written_ && streamed_ > 0 && !finished_)
        return std::max(env.now_ms + env.settings.send_timeout_ms, submitted_ms_ + env.settings.task_timeout_ms + 5000);
    return submitted_ms_ + env.settings.task_timeout_ms + 5000;
}

} // namespace ringfork::worker
