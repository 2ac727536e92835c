// One accepted connection as the ring loop sees it: its socket, what is in flight on it,
// its output and its HTTP session. Owns per-connection state; leaves I/O to the loop.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "net/byte_buffer.hpp"
#include "worker/http_session.hpp"
#include "worker/pipe_pool.hpp"

namespace ringfork::worker {

/// Why a connection's single deadline is set.
enum class deadline_kind : std::uint8_t { none, idle, header, body, send, linger, task };

/// A job this connection handed to the task pool, while it is being sent or awaited.
struct task_call {
    int fd = -1;               ///< Connection to the pool socket.
    std::string payload;       ///< job_request + body; `sent` bytes of it are out.
    std::size_t sent = 0;
    bool send_inflight = false;
    bool recv_inflight = false;
    char result[64] = {};      ///< Room for an ipc::job_result.
};

struct connection {
    int fd = -1;
    std::uint32_t generation = 0;
    bool recv_armed = false;     ///< A multishot recv is outstanding.
    bool send_inflight = false;  ///< At most one send at a time.
    bool read_inflight = false;  ///< A file read into `out` or `pipe` (never together with a send).
    bool poll_inflight = false;  ///< Waiting for room in the socket to move `pipe` into it.
    bool close_after_send = false;
    bool lingering = false;      ///< Write side shut; discarding input until EOF or deadline.
    bool closing = false;        ///< Close decided; waiting for outstanding ops to complete.
    bool peer_eof = false;
    bool queued = false;         ///< On the loop's flush list this turn.
    bool rearm_recv = false;     ///< Multishot recv ended (e.g. ENOBUFS); re-arm this turn.
    deadline_kind deadline = deadline_kind::none;
    std::uint32_t responses_in_send = 0; ///< Responses carried by the send in flight.
    std::uint32_t piped = 0;             ///< Body bytes in `pipe`, not yet in the socket.
    pipe_pair pipe;                      ///< While a large file body is spliced.
    std::uint64_t arrived_us = 0;        ///< When the oldest unsent response's request arrived.
    net::byte_buffer out;   ///< Output being produced: anyone may append to it at any time.
    net::byte_buffer wire;  ///< Output handed to the send in flight: never appended to or moved
                            ///< until that send completes, because the kernel reads it.
    http_session session;
    std::unique_ptr<task_call> task;

    [[nodiscard]] bool in_use() const noexcept { return fd >= 0; }
    /// No output is waiting or on its way.
    [[nodiscard]] bool output_empty() const noexcept { return out.empty() && wire.empty(); }
    [[nodiscard]] bool ops_pending() const noexcept
    {
        return recv_armed || send_inflight || read_inflight || poll_inflight || (task && (task->send_inflight || task->recv_inflight));
    }
};

} // namespace ringfork::worker
