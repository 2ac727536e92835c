// The task body source.
#include "worker/task_client.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "ipc/task_protocol.hpp"
#include "worker/task_routes.hpp"

namespace ringfork::worker {

void task_client::proceed(source_context& ctx)
{
    if (!submitted_) {
        submitted_ = true;
        submit(ctx);
    } else if (output_) {
        output_->proceed(ctx);
    }
}

// The job goes to the pool over a fresh Unix connection. The pool's listen backlog is the
// queue, so a full queue refuses the non-blocking connect at once (503). The request is
// sent with io_uring; a synchronous job then waits for the job_result and its output is
// streamed from the spool like a file; an async job is answered 202 at once.
void task_client::submit(source_context& ctx)
{
    const ipc::worker_settings& settings = ctx.env().settings;
    submitted_ms_ = ctx.env().now_ms;
    if (settings.task_pool.empty()) {
        answer(ctx, 503, "task pool not configured");
        return;
    }
    sockaddr_un addr{};
    socklen_t len = 0;
    if (!ipc::task_pool_sockaddr(settings.task_pool, addr, len)) {
        answer(ctx, 503, "task pool unavailable");
        return;
    }
    fd_.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd_ || ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
        const int err = errno;
        fd_.reset();
        ++ctx.env().stats.tasks_rejected;
        answer(ctx, 503, err == EAGAIN ? "task queue full" : "task pool unavailable");
        return;
    }
    if (job_.async) {
        // The job is visible as queued before the client can ask for it.
        const int marker = ::open(ipc::spool_path(settings.task_spool, job_.id, ".run").c_str(),
                                  O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (marker >= 0)
            ::close(marker);
    }
    ++ctx.env().stats.tasks_submitted;
    io_uring_sqe* sqe = ctx.prep(tag_send);
    io_uring_prep_send(sqe, fd_.get(), job_.payload.data(), job_.payload.size(), MSG_NOSIGNAL);
    send_inflight_ = true;
}

void task_client::on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe)
{
    switch (tag) {
    case tag_send:
        send_inflight_ = false;
        if (!ctx.closing())
            on_sent(ctx, cqe.res);
        break;
    case tag_result:
        recv_inflight_ = false;
        if (!ctx.closing())
            on_result(ctx, cqe.res);
        break;
    default:
        if (output_)
            output_->on_completion(ctx, tag, cqe);
        break;
    }
}

void task_client::on_sent(source_context& ctx, int res)
{
    if (res < 0) {
        fd_.reset();
        answer(ctx, 503, "task pool unavailable");
        return;
    }
    sent_ += std::size_t(res);
    if (sent_ < job_.payload.size()) {
        io_uring_sqe* sqe = ctx.prep(tag_send);
        io_uring_prep_send(sqe, fd_.get(), job_.payload.data() + sent_, job_.payload.size() - sent_, MSG_NOSIGNAL);
        send_inflight_ = true;
        return;
    }
    job_.payload = std::string();
    if (job_.async) {
        fd_.reset();
        http::response_writer w(ctx.out(), ctx.env().date, exchange.context);
        w.start(202);
        w.header("Location", "/tasks/jobs/" + job_.id);
        w.header("Content-Type", "application/json");
        w.finish(fmt::format("{{\"id\":\"{0}\",\"location\":\"/tasks/jobs/{0}\"}}\n", job_.id));
        exchange.status = w.status();
        exchange.body_bytes = w.body_length();
        ctx.send();
        ctx.done();
        return;
    }
    io_uring_sqe* sqe = ctx.prep(tag_result);
    io_uring_prep_recv(sqe, fd_.get(), result_, sizeof result_, MSG_WAITALL);
    recv_inflight_ = true;
}

void task_client::on_result(source_context& ctx, int res)
{
    ipc::job_result r;
    if (res != static_cast<int>(sizeof r)) {
        fd_.reset();
        answer(ctx, 502, "task runner failed");
        return;
    }
    std::memcpy(&r, result_, sizeof r);
    fd_.reset();
    http::response_writer w(ctx.out(), ctx.env().date, exchange.context);
    file_body body = write_job_response(w, ctx.env().settings.task_spool, job_.id,
                                        {ipc::job_status(r.outcome), r.exit_code, r.signal, r.elapsed_ms}, false);
    exchange.status = w.status();
    exchange.body_bytes = w.body_length();
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
    http::response_writer w(ctx.out(), ctx.env().date, exchange.context);
    w.start(status);
    w.header("Content-Type", "text/plain; charset=utf-8");
    if (status == 503)
        w.header("Retry-After", "1");
    std::string text(why);
    text += '\n';
    w.finish(text);
    exchange.status = w.status();
    exchange.body_bytes = w.body_length();
    ctx.send();
    ctx.done();
}

// The client left: cancelling the ops on the job connection (and closing it once they
// have completed) tells the runner to stop the job.
void task_client::stop(source_context& ctx) noexcept
{
    if (fd_ && (send_inflight_ || recv_inflight_))
        ctx.cancel_fd(fd_.get());
    if (output_)
        output_->stop(ctx);
}

bool task_client::busy() const noexcept
{
    return send_inflight_ || recv_inflight_ || (output_ && output_->busy());
}

std::uint64_t task_client::deadline_ms(const worker_env& env) const noexcept
{
    if (output_)
        return output_->deadline_ms(env);
    return submitted_ms_ + env.settings.task_timeout_ms + 5000;
}

} // namespace ringfork::worker
