// The file body source: a static file's body (or a finished job's output) after the head
// its handler wrote. Small files already in memory are appended at once; bodies of 64 KiB
// and more are spliced file -> pipe -> socket; others are read a window at a time. Several
// ranges are streamed as multipart parts. Owns its reads, splices, pipe and window; leaves
// the head, the send path and the close to the connection table.
#pragma once

#include <cstdint>

#include "net/byte_buffer.hpp"
#include "worker/body_source.hpp"
#include "worker/pipe_pool.hpp"
#include "worker/router.hpp"

namespace ringfork::worker {

class file_stream final : public body_source {
public:
    static constexpr std::size_t read_window = 128 * 1024;   ///< A read body's window per connection.
    static constexpr std::uint64_t splice_min = 64 * 1024;   ///< Bodies from this size are spliced.

    explicit file_stream(file_body body) noexcept : body_(std::move(body)) {}

    void proceed(source_context& ctx) override;
    void on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe) override;
    void stop(source_context& ctx) noexcept override;
    [[nodiscard]] bool busy() const noexcept override { return file_op_inflight_ || poll_inflight_; }

    /// Ops of this source; values below 16 so a source that wraps one can tell them apart.
    enum op_tag : std::uint8_t { tag_read = 1, tag_splice = 2, tag_writable = 3 };

private:
    /// Between the parts of a multipart body: the next part's head goes to the output and
    /// its range becomes the one to stream; after the last, the closing delimiter. False
    /// when no part is left (always, for a single body).
    bool next_part(source_context& ctx);
    void read_chunk(source_context& ctx);
    void splice_from_file(source_context& ctx);
    void splice_to_socket(source_context& ctx);
    /// A read or splice step completed with `res`: false when the stream cannot go on.
    bool step_done(source_context& ctx, int res, const char* call);
    void finish(source_context& ctx);

    file_body body_;
    net::byte_buffer chunk_;   ///< Where a read lands before it joins the output.
    pipe_pair pipe_;           ///< While a large body is spliced.
    std::uint32_t piped_ = 0;  ///< Body bytes in the pipe, not yet in the socket.
    bool file_op_inflight_ = false;
    bool poll_inflight_ = false;
};

} // namespace ringfork::worker
