// The proxy body source: one request relayed to an upstream and its response relayed
// back, both re-framed by ringfork, both streamed with backpressure (the upstream is read
// only when the client's output has drained; the client's body is taken only when the
// upstream has taken the last piece). Owns its lease on an upstream connection and every
// op on it, retries and timeouts; leaves choosing addresses and keeping idle connections to
// the upstream pool, and the client socket to the connection table.
#pragma once

#include <cstdint>
#include <string_view>

#include "ipc/stats.hpp"
#include "net/byte_buffer.hpp"
#include "net/http_parser.hpp"
#include "net/http_response_parser.hpp"
#include "worker/body_source.hpp"
#include "worker/proxy_framing.hpp"
#include "worker/upstream_pool.hpp"

namespace ringfork::worker {

class proxy_source final : public body_source {
public:
    /// What the source needs to know of its request beyond the head it was given.
    struct request_facts {
        bool head = false;         ///< HEAD: no response body follows.
        bool idempotent = false;   ///< GET, HEAD, OPTIONS, PUT, DELETE: may go to another address.
        bool length_known = false; ///< The body's length is known before it arrives (Content-Length).
        std::uint64_t length = 0;
    };

    static constexpr unsigned max_attempts = 3;                ///< Per request, retries included.
    static constexpr std::size_t response_head_max = 32 * 1024;
    static constexpr std::size_t relay_window = 64 * 1024;    ///< Response bytes read at once.

    /// `head`: the request line and fields for the upstream (write_upstream_head).
    proxy_source(upstream_pool& pool, std::uint16_t upstream, net::byte_buffer head, const request_facts& facts);
    ~proxy_source() override;
    proxy_source(const proxy_source&) = delete;
    proxy_source& operator=(const proxy_source&) = delete;

    /// Sources are recycled through a per-thread free list, so the steady path of a
    /// proxied request allocates nothing.
    static void* operator new(std::size_t size);
    static void operator delete(void* p) noexcept;

    void proceed(source_context& ctx) override;
    void on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe) override;
    void stop(source_context& ctx) noexcept override;
    [[nodiscard]] bool busy() const noexcept override { return connect_inflight_ || send_inflight_ || recv_inflight_; }
    void body_ready(source_context& ctx) override;
    /// The earliest of the timers that apply now: connect, first byte, upstream idle, the
    /// client's body, the client's reading.
    [[nodiscard]] std::uint64_t deadline_ms(const worker_env& env) const noexcept override;
    bool on_deadline(source_context& ctx) override;

private:
    enum op_tag : std::uint8_t { tag_connect = 16, tag_send = 17, tag_recv = 18 };
    /// How the current attempt ends once its ops have completed.
    enum class ending : std::uint8_t { none, success, failure, client_body, client_gone };

    // Attempts and the request (proxy_source.cpp).
    void start(source_context& ctx);
    /// One try on a connection from the pool; `fresh` asks for a new one.
    void attempt(source_context& ctx, bool fresh);
    void on_connected(source_context& ctx, int res);
    void on_sent(source_context& ctx, int res);
    void send_request(source_context& ctx);
    /// Sends the next piece of the client's streamed body, or its end.
    void send_body(source_context& ctx);

    // The response (proxy_response.cpp).
    /// Arms the one receive on the upstream connection: room for a head, then a relay window.
    void receive(source_context& ctx);
    void on_received(source_context& ctx, int res);
    /// Parses the response head (skipping interim ones) and writes the client's head.
    void parse_head(source_context& ctx);
    /// Relays the response body bytes received so far.
    void relay(source_context& ctx);
    /// Appends `n` body bytes to the client's output, as a chunk when the client's is chunked.
    void emit(source_context& ctx, const char* p, std::size_t n);

    // Endings (proxy_source.cpp).
    /// The attempt failed: counted and logged once; retried or answered once its ops are in.
    void fail(source_context& ctx, ipc::upstream_failure why, std::string_view what);
    /// Ends the attempt as `how`: cancels what is outstanding, concludes once it is in.
    void end(source_context& ctx, ending how);
    void conclude(source_context& ctx);
    /// Answers the client with an error of ringfork's own (502, 503, 504, 400, 408, 413).
    void answer(source_context& ctx, unsigned status);
    void give_back_buffers() noexcept;
    [[nodiscard]] bool ops_inflight() const noexcept { return busy(); }

    upstream_pool& pool_;
    upstream_lease lease_;
    request_facts facts_;
    net::byte_buffer request_;   ///< Head (and a body known whole at the start): kept for a retry.
    net::byte_buffer body_out_;  ///< A piece of a streamed body on its way.
    net::byte_buffer in_;        ///< Response bytes received and not yet relayed.
    http::chunked_decoder chunked_{~std::uint64_t(0)};
    std::size_t request_sent_ = 0;
    std::uint64_t left_ = 0;     ///< Content-Length bytes of the response still to come.
    std::uint64_t started_us_ = 0;
    std::uint64_t timer_ms_ = 0; ///< Connect or first-byte deadline.
    std::uint64_t last_io_ms_ = 0;   ///< Last sign of life of the upstream.
    std::uint64_t last_body_ms_ = 0; ///< Last bytes of the client's body.
    upstream_balancer::tried_set tried_ = 0;
    std::uint16_t upstream_ = 0;
    std::uint16_t status_ = 502;     ///< What a failure answers (502, or 504 after a timeout).
    std::uint16_t client_error_ = 0; ///< The client's body broke off with this status.
    ipc::upstream_failure failure_ = ipc::upstream_failure::closed;
    ending ending_ = ending::none;
    http::response_framing framing_ = http::response_framing::none;
    client_body client_ = client_body::none;
    unsigned attempts_ = 0;
    bool started_ = false;
    bool connecting_ = false;
    bool connect_inflight_ = false;
    bool send_inflight_ = false;
    bool recv_inflight_ = false;
    bool sending_head_ = false;     ///< The send in flight is from request_.
    bool streaming_body_ = false;   ///< More of the client's body is still to be sent.
    bool body_chunked_ = false;     ///< The body goes upstream chunked (length unknown).
    bool body_spent_ = false;       ///< Body bytes were sent that are no longer held: no retry.
    bool request_done_ = false;     ///< The whole request is out.
    bool response_started_ = false; ///< A response byte arrived on this attempt.
    bool head_sent_ = false;        ///< The client's response head is written.
    bool upstream_keeps_ = false;   ///< The upstream keeps the connection after this response.
    bool awaiting_client_ = false;  ///< Output is on its way to the client; proceed() resumes.
    bool fresh_retry_used_ = false;
};

} // namespace ringfork::worker
