// Following a job's output.
#include "worker/job_follow.hpp"

#include <unistd.h>

#include <algorithm>
#include <string>

#include "ipc/spool.hpp"
#include "worker/chunked_body.hpp"
#include "worker/task_routes.hpp"

namespace ringfork::worker {

namespace {

/// Bytes read from the output file per step.
constexpr std::size_t read_step = 64 * 1024;
/// How often the spool is looked at while nothing new is there.
constexpr long poll_ns = 50'000'000;

} // namespace

void job_follow::proceed(source_context& ctx)
{
    if (!timer_inflight_)
        step(ctx);
}

void job_follow::step(source_context& ctx)
{
    if (stopped_ || ctx.closing() || ctx.output_pending())
        return;
    const ipc::spool* spool = spool_for(spool_).get();
    if (spool == nullptr) {
        append_last_chunk(ctx.out(), {-1, 0, 0, false, "the task spool cannot be read"});
        ctx.send();
        ctx.done();
        return;
    }
    // The state first: output written before the job ended is all in the file by then.
    const auto state = spool->read_state(id_);
    int err = 0;
    const net::unique_fd fd = spool->open_read(id_, ipc::spool::file::out, err);
    if (fd) {
        std::string chunk(read_step, '\0');
        const ssize_t n = ::pread(fd.get(), chunk.data(), chunk.size(), static_cast<off_t>(offset_));
        if (n > 0) {
            append_chunk(ctx.out(), {chunk.data(), static_cast<std::size_t>(n)});
            offset_ += static_cast<std::uint64_t>(n);
            exchange.body_bytes = offset_;
            waiting_since_ms_ = 0;
            ctx.send();
            return;
        }
    }
    if (!state || ipc::ended(state->state)) {
        // Ended (or gone: swept, or its state never came): the trailers say how.
        job_trailers t;
        if (state) {
            t = {state->exit_code, state->signal, state->elapsed_ms, state->state == ipc::job_state::timed_out,
                 ipc::text_of(state->reason)};
        } else {
            t.error = "the job's state is gone";
        }
        append_last_chunk(ctx.out(), t);
        ctx.send();
        ctx.done();
        return;
    }
    if (waiting_since_ms_ == 0)
        waiting_since_ms_ = ctx.env().now_ms;
    wait_ = {0, poll_ns};
    io_uring_sqe* sqe = ctx.prep(tag_timer);
    io_uring_prep_timeout(sqe, &wait_, 0, 0);
    timer_inflight_ = true;
}

void job_follow::on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe&)
{
    if (tag != tag_timer)
        return;
    timer_inflight_ = false;
    step(ctx);
}

void job_follow::stop(source_context&) noexcept
{
    stopped_ = true; // the timer fires within 50 ms; nothing else is outstanding
}

std::uint64_t job_follow::deadline_ms(const worker_env& env) const noexcept
{
    if (waiting_since_ms_ == 0)
        return env.now_ms + env.settings.send_timeout_ms;
    // The longest a job may wait and run, then the master's own bounds: then it has ended.
    return waiting_since_ms_ + env.settings.task_timeout_ms + 5000;
}

} // namespace ringfork::worker
