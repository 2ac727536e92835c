// One connection's HTTP/1.1 state, fed with received bytes and producing responses, with
// no I/O of its own (so it is fuzzed and tested without sockets). Owns request framing,
// bodies, pipelining order, the close decision and the one place every response is
// counted and logged; leaves sockets, timers and body sources' I/O to the connection table.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "net/byte_buffer.hpp"
#include "net/http_parser.hpp"
#include "net/http_response.hpp"
#include "worker/body_source.hpp"
#include "worker/worker_env.hpp"

namespace ringfork::worker {

class http_session {
public:
    /// Whether the connection stays open once the output written so far is sent.
    enum class verdict : std::uint8_t { keep_open, close_after_send };

    /// Output above this stops request processing until it is sent (bounded memory for
    /// clients that pipeline without reading).
    static constexpr std::size_t output_high_water = 256 * 1024;
    /// A streamed request body's decoded bytes not yet taken by the source: at most this
    /// many; while the window is full, input waits and the connection stops receiving.
    static constexpr std::size_t stream_window = 64 * 1024;

    /// Consumes received bytes; appends every response that is complete to `out`.
    /// `data` may be modified (chunked bodies are decoded in place).
    [[nodiscard]] verdict on_data(std::span<char> data, net::byte_buffer& out, worker_env& env,
                                  std::uint64_t now_ms);
    /// Processes input held back while output was over the high-water mark or a body
    /// source was attached.
    [[nodiscard]] verdict resume(net::byte_buffer& out, worker_env& env, std::uint64_t now_ms)
    {
        return on_data({}, out, env, now_ms);
    }

    /// The body source the last request's handler produced, once: the connection table
    /// attaches it. Later requests wait until source_done().
    [[nodiscard]] std::unique_ptr<body_source> take_source() noexcept { return std::move(pending_); }
    /// The attached source finished its response: count and log it; later requests may run.
    void source_done(const body_source& source, worker_env& env);
    /// Responses completed since the last call (the connection table times them once sent).
    [[nodiscard]] std::uint32_t take_completed() noexcept { return std::exchange(completed_, 0u); }

    /// The current request's body, for its source.
    [[nodiscard]] streamed_body body() const noexcept;
    /// Moves up to `max` decoded body bytes to the end of `into`, making room in the
    /// window; returns how many. The caller then resumes the session, so held input fills
    /// the room.
    std::size_t take_body(net::byte_buffer& into, std::size_t max);
    /// The streamed body has news (bytes, its end, an error) since the last call.
    [[nodiscard]] bool take_body_event() noexcept { return stream_ && std::exchange(stream_->event, false); }
    /// A body is being streamed and its window is full: stop receiving until it is taken.
    [[nodiscard]] bool input_paused() const noexcept
    {
        return streaming() && stream_->window.size() >= stream_window;
    }
    /// A body is being streamed to the source. Input held meanwhile is bounded by the
    /// window and by receiving stopping while it is full, not by the buffered-body limits.
    [[nodiscard]] bool streaming() const noexcept { return stream_ && stream_->active; }
    /// The peer sends nothing more: a streamed body that has not ended breaks off (400).
    void end_of_input(worker_env& env);
    /// No request after the current one: its source chose a close-delimited response.
    void close() noexcept { closed_ = true; }

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
    /// A body source holds back later requests (and the close after them).
    [[nodiscard]] bool waiting() const noexcept { return waiting_; }
    /// The close was the client's own request (Connection: close, or HTTP/1.0 without
    /// keep-alive) and nothing of a later request is buffered: closing needs no linger.
    [[nodiscard]] bool client_closes() const noexcept { return client_close_ && in_.empty(); }
    /// A close was decided (error or Connection: close); later input is ignored.
    [[nodiscard]] bool closed() const noexcept { return closed_; }
    /// Writes a 408 for a request that did not arrive in time, and closes.
    void timeout(net::byte_buffer& out, worker_env& env);
    /// Frees the held-back input buffer once it is empty.
    void trim() noexcept;

private:
    /// Handles requests in `buf`; returns the bytes fully used (the rest is partial).
    std::size_t process(std::span<char> buf, net::byte_buffer& out, worker_env& env, std::uint64_t now_ms);
    /// Routes one complete request and writes its response (or takes its body source).
    void dispatch(const http::request& req, std::span<const char> body, net::byte_buffer& out, worker_env& env,
                  std::uint64_t now_ms, bool streamed = false);
    void fail(unsigned status, net::byte_buffer& out, worker_env& env, int version_minor);
    /// The head of a request whose route takes its body as a stream.
    [[nodiscard]] bool route_streams(const http::request& req, worker_env& env);
    /// Decodes streamed body bytes from `data` into the window while there is room;
    /// returns the bytes of `data` used.
    std::size_t feed_stream(std::span<char> data, worker_env& env);
    /// Feeds held input to the streamed body.
    void pump_stream(worker_env& env);
    void reset_body() noexcept;
    /// Counts and logs one finished response: the one place every response passes.
    void account(const http::request_summary& r, unsigned status, std::uint64_t body_bytes, worker_env& env);
    void account(const http::request& req, unsigned status, std::uint64_t body_bytes, worker_env& env);

    /// A streamed request body, from its head until its source is done; on the heap, and
    /// only while there is one, so the session of an idle connection stays small.
    struct body_stream {
        explicit body_stream(std::uint64_t max_body) noexcept : decoder(max_body) {}
        http::chunked_decoder decoder;
        net::byte_buffer window; ///< Decoded bytes the source has not taken.
        std::uint64_t left = 0;  ///< Content-Length bytes still to come.
        std::uint64_t taken = 0;
        std::uint16_t error = 0;
        bool streamed = false;   ///< The current request's body goes to its source.
        bool active = false;     ///< Still arriving: neither complete nor broken off.
        bool chunked = false;
        bool event = false;      ///< News for the source since it last heard.
    };

    net::byte_buffer in_;           ///< An incomplete request, from its first byte.
    std::unique_ptr<body_source> pending_; ///< Produced by dispatch, taken by the connection.
    std::unique_ptr<body_stream> stream_;
    std::uint64_t started_ms_ = 0;
    std::uint64_t progress_ms_ = 0;
    /// A chunked body in progress; on the heap, and only while one is, so the session of
    /// an idle connection stays small.
    struct chunked_state {
        explicit chunked_state(std::uint64_t max_body) noexcept : decoder(max_body) {}
        http::chunked_decoder decoder;
        std::size_t raw = 0;      ///< Raw bytes after the head already decoded.
        std::size_t decoded = 0;  ///< Decoded bytes written after the head.
    };
    std::unique_ptr<chunked_state> chunked_;
    std::uint32_t completed_ = 0;
    bool waiting_ = false;   ///< A body source holds back later requests.
    bool in_body_ = false;
    bool continue_sent_ = false;
    bool closed_ = false;
    bool client_close_ = false;
};

inline void http_session::account(const http::request& req, unsigned status, std::uint64_t body_bytes,
                                  worker_env& env)
{
    if (env.log) [[unlikely]] {
        account(http::summarize(req), status, body_bytes, env); // the header lookups only for a log line
        return;
    }
    env.stats.count_response(status);
    ++completed_;
}

} // namespace ringfork::worker
