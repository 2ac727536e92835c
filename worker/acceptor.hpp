// The worker's listeners: arming accepts, pausing above the connection limit or (shared
// mode) the fair share, and emptying a retiring slot's queues. Owns the listeners' accept
// state; leaves the accepted sockets to the connection table.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <vector>

#include "ipc/accept_share.hpp"
#include "ipc/worker_start.hpp"
#include "net/ring.hpp"
#include "worker/connections.hpp"
#include "worker/worker_env.hpp"

namespace ringfork::worker {

class acceptor {
public:
    acceptor(net::ring& ring, const ipc::worker_start& start, worker_env& env, connection_table& conns);

    /// Arms an accept on every listener and marks this slot live in the share table.
    void start();
    /// An accept completed on listener `index`.
    void on_accept(std::uint32_t index, const io_uring_cqe& cqe);
    /// Stops accepting for good (draining). A retiring slot first empties its queues for
    /// `retire_for_ms`: no new connection reaches them once the master steers them away.
    void stop(std::uint64_t retire_for_ms = 0);
    /// End of a turn: publish counts, resume paused accepting, empty a retiring slot's queues.
    void tick();
    /// Still taking connections from a retiring slot's queues.
    [[nodiscard]] bool retiring() const noexcept { return retiring_; }
    /// Paused for now (the loop looks again soon).
    [[nodiscard]] bool paused() const noexcept { return paused_ != pause_reason::none; }

private:
    enum class pause_reason : std::uint8_t { none, limit, balance, error };
    struct listener {
        int fd = -1;
        bool armed = false;
    };

    void arm(std::uint32_t index);
    void pause(pause_reason why);
    void maybe_resume();
    void publish_open() noexcept;
    /// Accepts what is still queued on this worker's listeners; true when every queue is empty.
    bool empty_queues();

    net::ring& ring_;
    const ipc::worker_start& start_;
    worker_env& env_;
    connection_table& conns_;
    std::vector<listener> listeners_;
    ipc::fair_share_window window_;
    std::uint64_t next_window_ms_ = 0;
    std::uint64_t retire_until_ms_ = 0;
    pause_reason paused_ = pause_reason::none;
    bool stopped_ = false;
    bool retiring_ = false;
};

} // namespace ringfork::worker
