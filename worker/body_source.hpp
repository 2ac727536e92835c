// The body-source seam: whatever produces a response over time (a file's bytes, a task's
// outcome, a handler's stream, an upstream's answer) sits behind body_source. A source
// submits and completes its own ring ops and answers "more?" (proceed) and "stop"; the
// connection table owns the client socket, the send path, the deadline and the close, and
// only routes completions and events to the source. (h2o's generators are the model.)
#pragma once

#include <liburing.h>

#include <cstdint>
#include <string>

#include "net/address.hpp"
#include "net/byte_buffer.hpp"
#include "net/http_response.hpp"
#include "worker/worker_env.hpp"

namespace ringfork::worker {

class connection_table;
struct connection;
struct connection_handle;

/// What the access log and the counters need to know about a response whose bytes come
/// later: filled by the session when the source is attached (the request side) and by the
/// source itself once it knows its status and length. Counted in one place, when the
/// source says done().
struct exchange_record {
    http::response_context context; ///< Version, keep-alive and HEAD of the request.
    unsigned status = 0;            ///< 0 until a response head is written.
    std::uint64_t body_bytes = 0;   ///< Content bytes on the wire (0 for HEAD).
    std::string method;             ///< The request line's method, target and the fields the
    std::string target;             ///< access log shows, kept only when it is on.
    std::string referer;
    std::string user_agent;
};

/// A request body as its source sees it when the route takes bodies as a stream
/// (handler::streams_body): dispatched at its head, the decoded bytes handed over through a
/// bounded window as they arrive.
struct streamed_body {
    bool streamed = false;     ///< This request's body comes through take_body().
    bool complete = false;     ///< Every byte has been decoded (taken or not).
    std::uint16_t error = 0;   ///< It broke off: 400 (bad chunk, the client stopped), 413 (over --max-body).
    std::size_t available = 0; ///< Decoded bytes waiting to be taken.
    std::uint64_t taken = 0;   ///< Bytes taken so far.
};

/// A connection as its body source sees it: a handle valid for the duration of one call.
class source_context {
public:
    source_context(connection_table& table, connection& c, std::uint32_t index) noexcept
        : table_(table), c_(c), index_(index)
    {
    }

    /// An SQE whose completion comes back to this source's on_completion with `tag`.
    [[nodiscard]] io_uring_sqe* prep(std::uint8_t tag) noexcept;
    /// Cancels every op outstanding on `fd` (a descriptor of the source's own); their
    /// completions still come back to on_completion.
    void cancel_fd(int fd) noexcept;
    /// Response bytes go here; safe at any time (a send in flight never reads this buffer).
    [[nodiscard]] net::byte_buffer& out() noexcept;
    /// Sends what is in out() this turn. `more`: the body follows at once (MSG_MORE).
    void send(bool more = false) noexcept;
    /// Calls proceed() again once nothing is waiting to be sent: at once (next turn) when
    /// the output is empty already.
    void wake() noexcept;
    /// Output is waiting or in flight; proceed() is called again once it has all gone.
    [[nodiscard]] bool output_pending() const noexcept;
    /// The client socket, for ops that move bytes into it directly (splice, poll).
    [[nodiscard]] int socket() const noexcept;
    /// Counts `n` bytes a source moved into the socket without the send path.
    void count_sent(std::uint64_t n) noexcept;
    /// The response is complete: it is counted and logged, and the next request may run.
    void done() noexcept;
    /// The response cannot be completed (its length was promised, or the client is gone):
    /// the connection is closed.
    void fail() noexcept;
    /// The connection is closing: finish outstanding ops, start nothing new.
    [[nodiscard]] bool closing() const noexcept;
    /// The request's body, when the route streams it.
    [[nodiscard]] streamed_body body() const noexcept;
    /// Moves up to `max` decoded body bytes to the end of `into`; the room made is filled
    /// from held input (and receiving resumes) once this call returns. Returns how many.
    std::size_t take_body(net::byte_buffer& into, std::size_t max);
    /// No request is read after this response and the connection closes once it is sent
    /// (a close-delimited body).
    void close_after() noexcept;
    /// The client's address (kept when the access log is on or proxy routes exist).
    [[nodiscard]] const net::peer_ip& peer() const noexcept;
    /// Recomputes the connection's deadline after the source's state changed.
    void refresh_deadline() noexcept;
    [[nodiscard]] worker_env& env() noexcept;
    /// Names this connection for a later visit (connection_table::visit).
    [[nodiscard]] connection_handle handle() const noexcept;
    /// Bytes of output not yet taken by the socket.
    [[nodiscard]] std::size_t output_bytes() const noexcept;

private:
    connection_table& table_;
    connection& c_;
    std::uint32_t index_;
};

/// One response's body producer, attached to its connection until done() or the close.
class body_source {
public:
    virtual ~body_source() = default;

    /// Produce more: called when the source is attached and again whenever all output
    /// has been sent, so a slow reader holds back the source (backpressure).
    virtual void proceed(source_context& ctx) = 0;
    /// A completion of an op this source submitted with ctx.prep(tag). Called while the
    /// connection closes too, so the source can account for its ops.
    virtual void on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe) = 0;
    /// The connection is closing: cancel what is outstanding (busy() turns false once the
    /// completions have arrived). Called once.
    virtual void stop(source_context& ctx) noexcept = 0;
    /// Ops are outstanding; the connection's close waits for them.
    [[nodiscard]] virtual bool busy() const noexcept = 0;
    /// A streamed request body has news: bytes to take, its end, or an error. The default
    /// ignores it (sources whose routes do not stream bodies).
    virtual void body_ready(source_context&) {}
    /// The client finished sending (its FIN) while this source is attached. True when
    /// that means the client has left: the source is still working out an answer (a task,
    /// a library handler's later answer or stream), so the connection closes and stop()
    /// cancels the work, as a proxy does for a request still waiting on its upstream. The
    /// default, false, keeps answering a client that only shut down its sending side.
    [[nodiscard]] virtual bool abandoned_at_eof() const noexcept { return false; }
    /// The connection's deadline (deadline_ms) passed. Return true when the source acted
    /// on it (answered 504, say) and the connection goes on; false closes the connection.
    [[nodiscard]] virtual bool on_deadline(source_context&) { return false; }
    /// The connection's deadline while this source is attached; by default the send
    /// deadline, which moves with every sign of progress.
    [[nodiscard]] virtual std::uint64_t deadline_ms(const worker_env& env) const noexcept
    {
        return env.now_ms + env.settings.send_timeout_ms;
    }

    exchange_record exchange;
};

} // namespace ringfork::worker
