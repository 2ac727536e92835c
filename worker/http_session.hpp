// One connection's HTTP/1.1 state, fed with received bytes and producing responses, with
// no I/O of its own (so it is fuzzed and tested without sockets). Owns request framing,
// bodies, pipelining order and the close decision; leaves sockets and timers to the loop.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "ipc/stats.hpp"
#include "ipc/worker_start.hpp"
#include "net/byte_buffer.hpp"
#include "net/http_parser.hpp"
#include "net/http_response.hpp"
#include "worker/access_log.hpp"
#include "worker/router.hpp"

namespace ringfork::worker {

/// What a session needs from its worker, shared by every connection.
struct session_env {
    const router& routes;
    const http::date_cache& date;
    const ipc::worker_settings& settings;
    ipc::worker_stats& stats;
    std::string& scratch;   ///< Reused for path normalisation; never shrinks.
    bool draining = false;  ///< Answer with Connection: close from now on.
    access_log* log = nullptr; ///< Records every response when enabled.
    std::time_t wall_now = 0;  ///< Wall-clock second, for the access log.
};

class http_session {
public:
    /// Whether the connection stays open once the output written so far is sent.
    enum class verdict : std::uint8_t { keep_open, close_after_send };

    /// Output above this stops request processing until it is sent (bounded memory for
    /// clients that pipeline without reading).
    static constexpr std::size_t output_high_water = 256 * 1024;

    /// Consumes received bytes; appends every response that is complete to `out`.
    /// `data` may be modified (chunked bodies are decoded in place).
    [[nodiscard]] verdict on_data(std::span<char> data, net::byte_buffer& out, session_env& env,
                                  std::uint64_t now_ms);
    /// Processes input held back while output was over the high-water mark.
    [[nodiscard]] verdict resume(net::byte_buffer& out, session_env& env, std::uint64_t now_ms)
    {
        return on_data({}, out, env, now_ms);
    }

    /// Bytes held for an incomplete request or behind the output high-water mark.
    [[nodiscard]] std::size_t buffered() const noexcept { return in_.size(); }
    /// Bytes of an incomplete request are buffered.
    [[nodiscard]] bool mid_request() const noexcept { return !in_.empty(); }
    /// The head is complete and the body is still arriving.
    [[nodiscard]] bool in_body() const noexcept { return in_body_; }
    /// When the first byte of the buffered request arrived.
    [[nodiscard]] std::uint64_t request_started_ms() const noexcept { return started_ms_; }
    /// When body bytes last arrived.
    [[nodiscard]] std::uint64_t last_progress_ms() const noexcept { return progress_ms_; }
    /// The body being streamed for the last response, or null. Request processing waits
    /// until stream_done(), so pipelined responses stay in order.
    [[nodiscard]] file_body* stream() noexcept { return waiting_ && later_.file.file ? &later_.file : nullptr; }
    /// The task the last request handed to the pool, or null while none is pending.
    [[nodiscard]] task_job* task() noexcept { return waiting_ ? later_.task.get() : nullptr; }
    /// The task ended and its response head is written: stream `body` next (or nothing).
    void task_done(file_body body) noexcept
    {
        later_ = deferred{};
        later_.file = std::move(body);
        waiting_ = later_.file.file && later_.file.length > 0;
    }
    /// A streamed body or a task holds back later requests (and the close after them).
    [[nodiscard]] bool waiting() const noexcept { return waiting_; }
    /// The loop finished streaming; buffered requests can be resumed.
    void stream_done() noexcept
    {
        waiting_ = false;
        later_ = deferred{};
    }
    /// The close was the client's own request (Connection: close, or HTTP/1.0 without
    /// keep-alive) and nothing of a later request is buffered: closing needs no linger.
    [[nodiscard]] bool client_closes() const noexcept { return client_close_ && in_.empty(); }
    /// A close was decided (error or Connection: close); later input is ignored.
    [[nodiscard]] bool closed() const noexcept { return closed_; }
    /// Writes a 408 for a request that did not arrive in time, and closes.
    void timeout(net::byte_buffer& out, session_env& env);
    /// Frees the held-back input buffer once it is empty.
    void trim() noexcept;
    /// The client's address as the access log shows it.
    void set_peer(std::string peer) { peer_ = std::move(peer); }
    [[nodiscard]] std::string_view peer() const noexcept { return peer_; }

private:
    /// Handles requests in `buf`; returns the bytes fully used (the rest is partial).
    std::size_t process(std::span<char> buf, net::byte_buffer& out, session_env& env, std::uint64_t now_ms);
    /// Routes one complete request and writes its response.
    void dispatch(const http::request& req, std::span<const char> body, net::byte_buffer& out, session_env& env,
                  std::uint64_t now_ms);
    void fail(unsigned status, net::byte_buffer& out, session_env& env, int version_minor);
    void reset_body() noexcept;

    void log(const http::request& req, const http::response_writer& w, session_env& env);

    net::byte_buffer in_;           ///< An incomplete request, from its first byte.
    std::string peer_;
    std::uint64_t started_ms_ = 0;
    std::uint64_t progress_ms_ = 0;
    http::chunked_decoder chunked_{0};
    std::size_t body_raw_ = 0;      ///< Chunked: raw bytes after the head already decoded.
    std::size_t body_decoded_ = 0;  ///< Chunked: decoded bytes written after the head.
    deferred later_;
    bool waiting_ = false;   ///< A streamed body or a task holds back later requests.
    bool in_body_ = false;
    bool continue_sent_ = false;
    bool closed_ = false;
    bool client_close_ = false;
};

} // namespace ringfork::worker
