// DELETE /tasks/jobs/ID: asks the master to cancel a job (task_calls::cancel_job) and
// answers what it did: 200 (it was queued and will never run), 202 (it runs: SIGTERM now,
// SIGKILL after its grace), 409 (it had ended), 404. Owns that answer; leaves the decision
// to the master and the reply socket to task_calls.
#pragma once

#include <cstdint>
#include <string>

#include "worker/body_source.hpp"
#include "worker/connections.hpp"

namespace ringfork::worker {

class job_cancel final : public body_source {
public:
    explicit job_cancel(std::string id) noexcept : id_(std::move(id)) {}

    void proceed(source_context& ctx) override;
    void on_completion(source_context&, std::uint8_t, const io_uring_cqe&) override {}
    void stop(source_context&) noexcept override { conn_ = {}; }
    [[nodiscard]] bool busy() const noexcept override { return false; }

private:
    void answer(source_context& ctx, unsigned status, std::string_view state);

    std::string id_;
    connection_handle conn_;
    bool asked_ = false;
};

} // namespace ringfork::worker
