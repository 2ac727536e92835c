// One accepted connection as the connection table sees it: its socket, what is in flight
// on it, its output, its HTTP session and the body source producing its current response.
// Owns per-connection state; leaves I/O to the connection table.
#pragma once

#include <cstdint>
#include <memory>

#include "net/address.hpp"
#include "net/byte_buffer.hpp"
#include "worker/body_source.hpp"
#include "worker/http_session.hpp"

namespace ringfork::worker {

/// Why a connection's single deadline is set.
enum class deadline_kind : std::uint8_t { none, idle, header, body, send, linger, source };

struct connection {
    int fd = -1;
    std::uint32_t generation = 0;
    std::uint32_t responses_unsent = 0; ///< Completed responses whose bytes are not all out yet.
    deadline_kind deadline = deadline_kind::none;
    bool recv_armed = false;     ///< A multishot recv is outstanding.
    bool send_inflight = false;  ///< At most one send at a time.
    bool send_more = false;      ///< The next send is a head whose body follows (MSG_MORE).
    bool close_after_send = false;
    bool lingering = false;      ///< Write side shut; discarding input until EOF or deadline.
    bool closing = false;        ///< Close decided; waiting for outstanding ops to complete.
    bool peer_eof = false;
    bool queued = false;         ///< On the table's flush list this turn.
    bool rearm_recv = false;     ///< Multishot recv ended (e.g. ENOBUFS); re-arm this turn.
    bool source_done = false;    ///< The source said done(); detached once its call returns.
    bool wake_source = false;    ///< The source asked for proceed() once the output is empty.
    bool recv_held = false;      ///< Receive cancelled on purpose: a streamed body's window is full.
    bool body_taken = false;     ///< The source took streamed body bytes; held input may follow.
    std::uint64_t arrived_us = 0;       ///< When the oldest unsent response's request arrived.
    net::peer_ip peer;                  ///< The client, kept when the access log is on.
    net::byte_buffer out;   ///< Output being produced: anyone may append to it at any time.
    net::byte_buffer wire;  ///< Output handed to the send in flight: never appended to or moved
                            ///< until that send completes, because the kernel reads it.
    http_session session;
    std::unique_ptr<body_source> source; ///< Producing the current response, if not whole yet.

    [[nodiscard]] bool in_use() const noexcept { return fd >= 0; }
    /// No output is waiting or on its way.
    [[nodiscard]] bool output_empty() const noexcept { return out.empty() && wire.empty(); }
    [[nodiscard]] bool ops_pending() const noexcept { return recv_armed || send_inflight || (source && source->busy()); }
};

} // namespace ringfork::worker
