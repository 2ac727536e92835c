// The task body source: a request's job goes to the task pool over a fresh Unix
// connection, and its outcome becomes the response (202 at once for an async job; for a
// synchronous one the result's head, then the job's output streamed from the spool).
// Owns the job connection and its ops; leaves the HTTP routes to task_routes and the
// output's streaming to a file_stream.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/fd.hpp"
#include "worker/body_source.hpp"
#include "worker/file_stream.hpp"

namespace ringfork::worker {

/// A job for the task pool: the client sends `payload` (a job_request and the body) and
/// writes the response when the job has ended (or at once, 202, for an async job).
struct task_job {
    bool async = false;
    std::string id;       ///< The job id (also in the payload).
    std::string payload;  ///< ipc::job_request bytes followed by the request body.
};

class task_client final : public body_source {
public:
    explicit task_client(task_job job) noexcept : job_(std::move(job)) {}

    void proceed(source_context& ctx) override;
    void on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe) override;
    void stop(source_context& ctx) noexcept override;
    [[nodiscard]] bool busy() const noexcept override;
    /// While the job runs, the pool's own timeout ends it first; then the output's.
    [[nodiscard]] std::uint64_t deadline_ms(const worker_env& env) const noexcept override;

private:
    /// Ops on the job connection; a wrapped file_stream's tags are below 16.
    enum op_tag : std::uint8_t { tag_send = 16, tag_result = 17 };

    void submit(source_context& ctx);
    void on_sent(source_context& ctx, int res);
    void on_result(source_context& ctx, int res);
    /// Ends the response with an error of `status` and a one-line body.
    void answer(source_context& ctx, unsigned status, std::string_view why);

    task_job job_;
    net::unique_fd fd_;               ///< The job connection to the pool.
    std::size_t sent_ = 0;            ///< Bytes of the payload out.
    std::uint64_t submitted_ms_ = 0;
    bool submitted_ = false;
    bool send_inflight_ = false;
    bool recv_inflight_ = false;
    char result_[64] = {};            ///< Room for an ipc::job_result.
    std::unique_ptr<file_stream> output_; ///< The job's output, once its head is written.
};

} // namespace ringfork::worker
