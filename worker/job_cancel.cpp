// Cancelling a job.
#include "worker/job_cancel.hpp"

#include <fmt/format.h>

#include "worker/task_calls.hpp"

namespace ringfork::worker {

void job_cancel::proceed(source_context& ctx)
{
    if (asked_)
        return;
    asked_ = true;
    conn_ = ctx.handle();
    // The answer comes later, through the connection's handle, which is stale once the
    // client left (this source is gone then).
    const bool asked = ctx.env().tasks != nullptr && ctx.env().tasks->cancel_job(id_, [conn = conn_, this](ipc::cancel_result r) {
        if (conn.table == nullptr)
            return;
        conn.table->visit(conn, [&](source_context& c) {
            switch (r) {
            case ipc::cancel_result::cancelled: answer(c, 200, "cancelled"); return;
            case ipc::cancel_result::cancelling: answer(c, 202, "cancelling"); return;
            case ipc::cancel_result::ended: answer(c, 409, "ended"); return;
            case ipc::cancel_result::unknown: break;
            }
            answer(c, 404, "");
        });
    });
    if (!asked)
        answer(ctx, 503, "");
}

void job_cancel::answer(source_context& ctx, unsigned status, std::string_view state)
{
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

} // namespace ringfork::worker
