// GET /tasks/jobs/ID/output?follow=1: a job's output from its start, chunk by chunk as it
// grows, until the job has ended, then trailers saying how. It reads only the spool (every
// ~50 ms while nothing new is there), so it works from any worker and across reloads.
// Owns its polling timer and read position; leaves the head to the route and the socket to
// the connection table.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>

#include "worker/body_source.hpp"

namespace ringfork::worker {

class job_follow final : public body_source {
public:
    job_follow(std::string spool, std::string id) noexcept : spool_(std::move(spool)), id_(std::move(id)) {}

    void proceed(source_context& ctx) override;
    void on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe) override;
    void stop(source_context& ctx) noexcept override;
    [[nodiscard]] bool busy() const noexcept override { return timer_inflight_; }
    /// Waiting on the job: as long as a job may live; sending: the send deadline.
    [[nodiscard]] std::uint64_t deadline_ms(const worker_env& env) const noexcept override;

private:
    enum op_tag : std::uint8_t { tag_timer = 16 };

    /// Sends what the file has beyond what was sent, or ends after the job ended, or waits.
    void step(source_context& ctx);

    std::string spool_;
    std::string id_;
    std::uint64_t offset_ = 0;
    std::uint64_t waiting_since_ms_ = 0;
    __kernel_timespec wait_{};
    bool timer_inflight_ = false;
    bool stopped_ = false;
};

} // namespace ringfork::worker
