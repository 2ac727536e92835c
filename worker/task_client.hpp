// The task routes' body source: one task call (worker/task_calls.hpp) whose events become
// the response: 202 on `queued` for an async job; for a synchronous one the result's head,
// then the output streamed from the spool by a file_stream; with ?stream=1, 200 once the
// job started and its output as chunks as it comes, gaps read from the spool, then
// trailers. Owns its call and the response; leaves the job socket to task_calls and the
// routes to task_routes.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "worker/body_source.hpp"
#include "worker/connections.hpp"
#include "worker/file_stream.hpp"
#include "worker/task_calls.hpp"

namespace ringfork::worker {

class task_client final : public body_source {
public:
    task_client(task_request request, std::string spool) noexcept
        : request_(std::move(request)), spool_(std::move(spool))
    {
    }
    ~task_client() override;

    void proceed(source_context& ctx) override;
    void on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe) override;
    void stop(source_context& ctx) noexcept override;
    [[nodiscard]] bool busy() const noexcept override { return output_ && output_->busy(); }
    /// A synchronous job's client that closed has left (its job is cancelled); an async
    /// job is the client's to collect later, so it is not.
    [[nodiscard]] bool abandoned_at_eof() const noexcept override { return !request_.async; }
    /// While the job is queued or runs, the master's bounds end it first; then the output's.
    [[nodiscard]] std::uint64_t deadline_ms(const worker_env& env) const noexcept override;

private:
    void submit(source_context& ctx);
    /// Runs `fn` with this source's connection, if it is still there.
    template <typename F> void with_connection(F&& fn);
    void on_queued(source_context& ctx);
    void on_started(source_context& ctx);
    /// False when the client is behind: the call pauses until proceed() resumes it.
    bool on_output(source_context& ctx, std::uint64_t offset, std::span<const char> bytes);
    void on_done(source_context& ctx, const task_outcome& o);
    /// Streaming, once the output went: bytes records did not carry come from <id>.out a
    /// window at a time; then the call goes on, or the body ends with its trailers.
    void pump(source_context& ctx);
    /// Ends the response with `status` and a one-line body (or, mid-stream, with trailers).
    void answer(source_context& ctx, unsigned status, std::string_view why);
    [[nodiscard]] bool streaming() const noexcept { return request_.stream; }

    task_request request_;
    std::string spool_;
    std::string job_id_;
    task_calls* calls_ = nullptr;
    task_call_id call_ = 0;
    connection_handle conn_;
    std::uint64_t submitted_ms_ = 0;
    std::uint64_t streamed_ = 0;        ///< Output bytes in the response so far.
    std::uint64_t known_end_ = 0;       ///< Output known to exist in <id>.out.
    std::optional<task_outcome> result_; ///< Streaming: how it ended, once known.
    bool submitted_ = false;
    bool head_written_ = false;         ///< Streaming: the 200 head is out.
    bool paused_ = false;               ///< The call waits for the client to catch up.
    bool finished_ = false;
    std::unique_ptr<file_stream> output_; ///< A synchronous job's output, once its head is written.
};

} // namespace ringfork::worker
