// The worker's connections: each client socket's receive, send and output buffers, its
// HTTP session, the body source producing its current response, its one deadline and its
// close. Owns every client socket from accept to close; leaves parsing and routing to the
// session, producing bodies to the sources, and the ring turn to the loop.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "net/byte_buffer.hpp"
#include "net/ring.hpp"
#include "worker/connection.hpp"
#include "worker/ops.hpp"
#include "worker/timer_wheel.hpp"
#include "worker/worker_env.hpp"

namespace ringfork::worker {

class connection_table;

/// Names one connection across loop turns; stale once its slot is reused.
struct connection_handle {
    connection_table* table = nullptr;
    std::uint32_t index = 0;
    std::uint32_t generation = 0;
};

class connection_table {
public:
    /// Provided-buffer group the receives use.
    static constexpr std::uint16_t buffer_group = 1;

    connection_table(net::ring& ring, net::buffer_ring& buffers, worker_env& env);

    /// Takes an accepted socket: arms its receive and its deadline.
    void open(int fd);
    /// Connections open now.
    [[nodiscard]] std::uint32_t open_count() const noexcept { return open_; }

    // One handler per operation the loop routes here.
    void on_recv(const user_data& u, const io_uring_cqe& cqe);
    void on_send(const user_data& u, const io_uring_cqe& cqe);
    void on_source(const user_data& u, const io_uring_cqe& cqe);

    /// Start of a turn: one send for every connection that produced output, and re-arms.
    void flush();
    /// End of a turn: acts on every deadline that has passed.
    void fire_deadlines();
    /// Milliseconds until a deadline could fire, or -1 when none is set.
    [[nodiscard]] long next_wait_ms() const noexcept { return timers_.next_wait_ms(env_.now_ms); }
    /// Draining began: idle connections get a short last chance, busy ones close after
    /// their next response.
    void start_drain();
    /// Runs `fn(source_context&)` on the connection `h` names if it is still open and has a
    /// body source attached (an answer given later, from another completion); false when
    /// it is gone. What `fn` writes is sent this turn.
    template <typename F> bool visit(const connection_handle& h, F&& fn);

private:
    friend class source_context;

    /// The live connection a completion belongs to, or null (its slot was reused); a
    /// stale completion's provided buffer is recycled here.
    connection* live(const user_data& u, const io_uring_cqe& cqe) noexcept;
    void arm_recv(connection& c, std::uint32_t index);
    /// The session, a source or a handler is about to run for `c`: its peer for logs.
    void serving(const connection& c) noexcept;
    void queue_flush(connection& c, std::uint32_t index);
    /// Gives an output-less connection a block from the spare pool, if there is one.
    void take_spare_block(connection& c);
    /// Everything queued for the peer is out: time the responses it carried, then let the
    /// source go on, or resume held-back requests, or idle.
    void output_sent(connection& c, std::uint32_t index);
    void resume_session(connection& c, std::uint32_t index);
    /// After the session ran: count what it completed, attach a source it produced.
    void after_session(connection& c, std::uint32_t index);
    /// After a source ran: feed it held body input if it took some, detach it if it said
    /// done(), then finish a close it caused.
    void settle(connection& c, std::uint32_t index);
    /// A streamed request body: tells the source of news, stops receiving while the
    /// window is full and receives again once the source made room.
    void pump_body(connection& c, std::uint32_t index);
    void begin_close(connection& c, std::uint32_t index, bool graceful);
    void finish_close_if_done(connection& c, std::uint32_t index);
    void update_deadline(connection& c, std::uint32_t index);
    void on_deadline(std::uint32_t index);

    net::ring& ring_;
    net::buffer_ring& buffers_;
    worker_env& env_;
    std::vector<connection> conns_;
    std::vector<std::uint32_t> free_;
    std::vector<std::uint32_t> flush_list_;
    std::vector<net::byte_buffer> spare_out_; ///< Output blocks of idle connections, reused.
    timer_wheel timers_;
    std::uint32_t open_ = 0;
};

template <typename F> bool connection_table::visit(const connection_handle& h, F&& fn)
{
    if (h.index >= conns_.size())
        return false;
    connection& c = conns_[h.index];
    if (!c.in_use() || c.generation != h.generation || !c.source || c.closing)
        return false;
    source_context ctx(*this, c, h.index);
    fn(ctx);
    settle(c, h.index);
    update_deadline(c, h.index);
    return true;
}

} // namespace ringfork::worker
