// The task routes' body source.
#include "worker/task_client.hpp"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "worker/chunked_body.hpp"
#include "worker/task_routes.hpp"

namespace ringfork::worker {

namespace {

/// Output read from the spool per step when the records did not carry it.
constexpr std::size_t file_step = 64 * 1024;
/// Streaming: more output than this waiting for the client pauses the call.
constexpr std::size_t stream_high_water = 256 * 1024;

} // namespace

task_client::~task_client()
{
    if (calls_ != nullptr && call_ != 0)
        calls_->drop(call_);
}

template <typename F> void task_client::with_connection(F&& fn)
{
    // The visit may end this source (done()): nothing of `this` is touched after it.
    const connection_handle conn = conn_;
    if (conn.table != nullptr)
        conn.table->visit(conn, std::forward<F>(fn));
}

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
    if (!finished_ && head_written_)
        pump(ctx);
}

void task_client::submit(source_context& ctx)
{
    submitted_ms_ = ctx.env().now_ms;
    conn_ = ctx.handle();
    calls_ = ctx.env().tasks;
    task_events events;
    events.queued = [this] { with_connection([this](source_context& c) { on_queued(c); }); };
    events.started = [this] { with_connection([this](source_context& c) { on_started(c); }); };
    if (streaming())
        events.output = [this](std::uint64_t offset, std::span<const char> bytes) {
            bool more = true;
            with_connection([&](source_context& c) { more = on_output(c, offset, bytes); });
            return more;
        };
    events.done = [this](const task_outcome& o) {
        call_ = 0; // ended: nothing to drop any more
        with_connection([this, &o](source_context& c) { on_done(c, o); });
    };
    if (calls_ != nullptr)
        call_ = calls_->call(request_, std::move(events), &job_id_);
    if (call_ == 0)
        answer(ctx, 503, "task pool unavailable");
}

void task_client::on_queued(source_context& ctx)
{
    if (!request_.async)
        return;
    call_ = 0; // an async call ends at `queued`
    http::response_writer w(ctx.out(), ctx.env().date, exchange.context);
    w.start(202);
    w.header("Location", "/tasks/jobs/" + job_id_);
    w.header("Content-Type", "application/json");
    w.finish(fmt::format("{{\"id\":\"{0}\",\"location\":\"/tasks/jobs/{0}\"}}\n", job_id_));
    exchange.status = w.status();
    exchange.body_bytes = w.body_length();
    finished_ = true;
    ctx.send();
    ctx.done();
}

void task_client::on_started(source_context& ctx)
{
    if (!streaming() || head_written_)
        return;
    http::response_writer w(ctx.out(), ctx.env().date, exchange.context);
    w.start(200);
    w.header("Content-Type", "application/octet-stream");
    w.header("X-Task-Job", job_id_);
    finish_chunked_head(w);
    exchange.status = 200;
    head_written_ = true;
    ctx.send();
}

bool task_client::on_output(source_context& ctx, std::uint64_t offset, std::span<const char> bytes)
{
    if (!head_written_)
        return true;
    known_end_ = std::max<std::uint64_t>(known_end_, offset + bytes.size());
    if (offset > streamed_) {
        // Records the runner could not send: those bytes come from the file first.
        paused_ = true;
        ctx.wake();
        return false;
    }
    if (offset + bytes.size() > streamed_) {
        const auto fresh = bytes.subspan(static_cast<std::size_t>(streamed_ - offset));
        append_chunk(ctx.out(), fresh);
        streamed_ += fresh.size();
        ctx.send();
    }
    if (ctx.output_bytes() > stream_high_water) {
        paused_ = true; // proceed() resumes once the client caught up
        return false;
    }
    return true;
}

void task_client::pump(source_context& ctx)
{
    if (ctx.output_pending())
        return;
    if (streamed_ < known_end_) {
        const ipc::spool* spool = spool_for(spool_).get();
        int err = 0;
        const net::unique_fd fd = spool ? spool->open_read(job_id_, ipc::spool::file::out, err) : net::unique_fd{};
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
        append_last_chunk(ctx.out(), {result_->exit_code, result_->signal, result_->elapsed_ms, result_->timed_out,
                                      result_->reason});
        exchange.body_bytes = streamed_;
        finished_ = true;
        ctx.send();
        ctx.done();
        return;
    }
    if (paused_ && calls_ != nullptr && call_ != 0) {
        paused_ = false;
        calls_->resume(call_);
    }
}

void task_client::on_done(source_context& ctx, const task_outcome& o)
{
    if (o.outcome == ipc::job_outcome::rejected) {
        answer(ctx, ipc::job_http_status(o.outcome, o.rejected), o.reason);
        return;
    }
    if (o.lost) {
        answer(ctx, 502, o.reason);
        return;
    }
    if (head_written_) {
        result_ = o;
        known_end_ = std::max(known_end_, o.output_bytes);
        pump(ctx);
        return;
    }
    http::response_writer w(ctx.out(), ctx.env().date, exchange.context);
    file_body body = write_job_response(w, spool_, job_id_,
                                        {ipc::job_http_status(o.outcome, o.rejected), o.exit_code, o.signal,
                                         o.elapsed_ms},
                                        false);
    exchange.status = w.status();
    exchange.body_bytes = w.body_length();
    finished_ = true;
    if (!body.file) {
        ctx.send();
        ctx.done();
        return;
    }
    output_ = std::make_unique<file_stream>(std::move(body));
    output_->proceed(ctx);
}

void task_client::answer(source_context& ctx, unsigned status, std::string_view why)
{
    finished_ = true;
    if (head_written_) {
        // Mid-stream: the status is out already; the trailers say what happened.
        append_last_chunk(ctx.out(), {-1, 0, 0, false, why});
        exchange.body_bytes = streamed_;
        ctx.send();
        ctx.done();
        return;
    }
    http::response_writer w(ctx.out(), ctx.env().date, exchange.context);
    w.start(status);
    w.header("Content-Type", "text/plain; charset=utf-8");
    if (status == 503)
        w.header("Retry-After", "1");
    if (!job_id_.empty())
        w.header("X-Task-Job", job_id_);
    std::string text(why);
    text += '\n';
    w.finish(text);
    exchange.status = w.status();
    exchange.body_bytes = w.body_length();
    ctx.send();
    ctx.done();
}

void task_client::on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe)
{
    if (output_)
        output_->on_completion(ctx, tag, cqe);
}

// The client left: dropping the call closes the job socket, which tells the master (a
// synchronous job is then cancelled).
void task_client::stop(source_context& ctx) noexcept
{
    if (calls_ != nullptr && call_ != 0)
        calls_->drop(call_);
    call_ = 0;
    if (output_)
        output_->stop(ctx);
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
