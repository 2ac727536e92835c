// The task body source: a request's job goes to the master over the worker's channel
// (job_submit, the job's SOCK_SEQPACKET socket attached) and its records become the
// response: 202 on `queued` for an async job; for a synchronous one the body goes out as
// records and the result's head is written, then the output streamed from the spool; with
// ?stream=1, 200 once it started and its output as chunks as the job writes it, then
// trailers. Owns the job socket and its ops; leaves the routes to task_routes and a finished
// job's output file to a file_stream.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/task_protocol.hpp"
#include "net/fd.hpp"
#include "worker/body_source.hpp"
#include "worker/file_stream.hpp"

namespace ringfork::worker {

/// What to run and how to answer.
struct task_job {
    ipc::job_header header;      ///< id, name, args, flags (job_async, job_stream).
    std::string body;            ///< A synchronous job's body (an async one's is in the spool).
    std::string spool;           ///< The spool's path, for the job's output.
};

class task_client final : public body_source {
public:
    explicit task_client(task_job job) noexcept : job_(std::move(job)) {}

    void proceed(source_context& ctx) override;
    void on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe) override;
    void stop(source_context& ctx) noexcept override;
    [[nodiscard]] bool busy() const noexcept override;
    /// While the job is queued or runs, the master's bounds end it first; then the output's.
    [[nodiscard]] std::uint64_t deadline_ms(const worker_env& env) const noexcept override;

private:
    /// Ops on the job socket; a wrapped file_stream's tags are below 16.
    enum op_tag : std::uint8_t { tag_body = 16, tag_record = 17 };

    void submit(source_context& ctx);
    void send_body(source_context& ctx);
    void arm_record(source_context& ctx);
    void on_record(source_context& ctx, int res);
    void on_packet(source_context& ctx, std::string_view packet);
    void on_output(source_context& ctx, const ipc::record_view& r);
    void on_result(source_context& ctx, const ipc::result_record& r);
    /// The job socket ended without a result: the master is gone.
    void on_lost(source_context& ctx);
    /// Streaming, once the output went: output records did not carry (a gap) come from
    /// <id>.out, a window at a time; then the next record, or the end with its trailers.
    void pump(source_context& ctx);
    /// Ends the response with `status` and a one-line body (or, mid-stream, with trailers).
    void answer(source_context& ctx, unsigned status, std::string_view why);
    /// The response is complete: done() once no op of ours is outstanding.
    void finish(source_context& ctx);
    void settle_if_finished(source_context& ctx);
    [[nodiscard]] bool streaming() const noexcept { return (job_.header.flags & ipc::job_stream) != 0; }

    task_job job_;
    net::unique_fd fd_;                 ///< Our end of the job socket.
    std::vector<char> packet_;          ///< One record at a time.
    std::size_t body_sent_ = 0;         ///< Bytes of the body out, in records.
    bool body_end_sent_ = false;
    ipc::record_head body_head_{};      ///< The body record in flight: its head,
    iovec body_iov_[2]{};               ///< its parts,
    msghdr body_msg_{};                 ///< and its message.
    std::uint64_t submitted_ms_ = 0;
    std::uint64_t streamed_ = 0;        ///< Output bytes in the response so far.
    std::uint64_t known_end_ = 0;       ///< Output known to exist in <id>.out.
    std::optional<ipc::result_record> result_; ///< Streaming: how it ended, once known.
    std::string held_;                  ///< A final record that waits for the body send.
    bool submitted_ = false;
    bool head_written_ = false;         ///< Streaming: the 200 head is out.
    bool finished_ = false;             ///< The response is complete (or failed).
    bool body_inflight_ = false;
    bool record_inflight_ = false;
    bool said_done_ = false;
    std::unique_ptr<file_stream> output_; ///< A synchronous job's output, once its head is written.
};

} // namespace ringfork::worker
