// Cancelling a job.
#include "worker/job_cancel.hpp"

#include <sys/socket.h>

#include <fmt/format.h>

#include "ipc/task_channel.hpp"

namespace ringfork::worker {

void job_cancel::proceed(source_context& ctx)
{
    if (asked_)
        return;
    asked_ = true;
    const int channel = ctx.env().master_channel;
    int sv[2];
    if (channel < 0 || ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) {
        answer(ctx, 503, "");
        return;
    }
    fd_.reset(sv[0]);
    const net::unique_fd theirs(sv[1]);
    ipc::worker_task_message m;
    m.type = ipc::worker_task_msg::job_cancel;
    ipc::set_text(m.job.id, id_);
    if (ipc::send_with_fd(channel, &m, sizeof m, theirs.get()) != 0) {
        answer(ctx, 503, "");
        return;
    }
    io_uring_sqe* sqe = ctx.prep(tag_reply);
    io_uring_prep_recv(sqe, fd_.get(), reply_, sizeof reply_, 0);
    recv_inflight_ = true;
}

void job_cancel::on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe)
{
    if (tag != tag_reply)
        return;
    recv_inflight_ = false;
    if (ctx.closing())
        return;
    const auto r = cqe.res > 0 ? ipc::parse_record({reply_, static_cast<std::size_t>(cqe.res)}) : std::nullopt;
    const auto c = r && r->type == ipc::record_type::cancel ? ipc::payload_as<ipc::cancel_record>(*r) : std::nullopt;
    if (!c) {
        answer(ctx, 503, "");
        return;
    }
    switch (c->result) {
    case ipc::cancel_result::cancelled: answer(ctx, 200, "cancelled"); return;
    case ipc::cancel_result::cancelling: answer(ctx, 202, "cancelling"); return;
    case ipc::cancel_result::ended: answer(ctx, 409, "ended"); return;
    case ipc::cancel_result::unknown: break;
    }
    answer(ctx, 404, "");
}

void job_cancel::answer(source_context& ctx, unsigned status, std::string_view state)
{
    fd_.reset();
    http::response_writer w(ctx.out(), ctx.env().date, exchange.context);
    if (state.empty()) {
        http::write_error(w, status, status == 503 ? "Retry-After: 1\r\n" : "");
    } else {
        w.start(status);
        w.header("Content-Type", "application/json");
        w.finish(fmt::format("{{\"id\":\"{}\",\"state\":\"{}\"}}\n", id_, state));
    }
    exchange.status = w.status();
    exchange.body_bytes = w.body_length();
    ctx.send();
    ctx.done();
}

void job_cancel::stop(source_context& ctx) noexcept
{
    if (fd_ && recv_inflight_)
        ctx.cancel_fd(fd_.get());
}

} // namespace ringfork::worker
