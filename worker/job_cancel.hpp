// DELETE /tasks/jobs/ID: asks the master to cancel a job (job_cancel on the worker's
// channel, a reply socket attached) and answers what it did: 200 (it was queued and will
// never run), 202 (it runs: SIGTERM now, SIGKILL after its grace), 409 (it had ended), 404.
// Owns the reply socket and its receive; leaves the decision to the master.
#pragma once

#include <cstdint>
#include <string>

#include "ipc/task_protocol.hpp"
#include "net/fd.hpp"
#include "worker/body_source.hpp"

namespace ringfork::worker {

class job_cancel final : public body_source {
public:
    explicit job_cancel(std::string id) noexcept : id_(std::move(id)) {}

    void proceed(source_context& ctx) override;
    void on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe) override;
    void stop(source_context& ctx) noexcept override;
    [[nodiscard]] bool busy() const noexcept override { return recv_inflight_; }

private:
    enum op_tag : std::uint8_t { tag_reply = 16 };

    void answer(source_context& ctx, unsigned status, std::string_view state);

    std::string id_;
    net::unique_fd fd_;
    char reply_[sizeof(ipc::record_head) + sizeof(ipc::cancel_record) + 16] = {};
    bool asked_ = false;
    bool recv_inflight_ = false;
};

} // namespace ringfork::worker
