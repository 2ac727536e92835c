// The worker's side of supervision: its signals (signalfd) and its channel to the master.
// Records what the master or a signal asks for, for the loop to act on in its turn, and
// sends READY, heartbeats with stats, and the final snapshot. Owns the signalfd and the
// channel's receive; leaves acting on requests to the loop.
#pragma once

#include <liburing.h>
#include <sys/signalfd.h>

#include <string>
#include <vector>

#include "ipc/messages.hpp"
#include "ipc/worker_start.hpp"
#include "net/fd.hpp"
#include "net/ring.hpp"

namespace ringfork::worker {

/// What signals and the master asked for since the loop last looked.
struct link_requests {
    bool drain = false;        ///< TERM, QUIT or DRAIN: graceful stop.
    bool retire = false;       ///< RETIRE: the slot goes away; empty its queues, then drain.
    bool stop_now = false;     ///< INT, or the master is gone.
    bool reopen_logs = false;  ///< USR1 or REOPEN_LOGS.
    net::unique_fd log_file;   ///< The access log the master reopened (REOPEN_LOGS); empty for USR1.
    /// Messages for the ring services (upstream_set, ...), in arrival order.
    std::vector<ipc::message> for_services;
};

class master_link {
public:
    master_link(net::ring& ring, const ipc::worker_start& start) noexcept : ring_(ring), start_(start) {}

    /// Blocks the signals the worker reads and opens the signalfd; `error` on failure.
    [[nodiscard]] bool open(std::string& error);
    /// Arms the signal read and the channel receive.
    void arm();
    void on_signal(const io_uring_cqe& cqe);
    void on_channel(const io_uring_cqe& cqe);
    /// Sends one message with `stats` to the master; a full channel only delays a snapshot.
    void send(ipc::msg_type type, const ipc::worker_stats& stats);
    /// Sends `m` (its type and payload set by the caller) with this worker's identity and
    /// `stats`, since the master takes every message's stats as the latest snapshot.
    void send(ipc::message& m, const ipc::worker_stats& stats);

    link_requests requests;

private:
    void arm_signal();
    void arm_channel();

    net::ring& ring_;
    const ipc::worker_start& start_;
    net::unique_fd signal_fd_;
    signalfd_siginfo siginfo_{};
    ipc::message_inbox inbox_; ///< The next message and the descriptor it may carry.
    bool channel_alive_ = true;
};

} // namespace ringfork::worker
