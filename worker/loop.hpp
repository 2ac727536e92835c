// The worker's io_uring loop: one ring turn (submit and wait once, route every completion
// through one switch, then the tick), and acting on what signals and the master asked for.
// Owns the ring, the provided-buffer ring and the parts of the worker; leaves connections
// to the connection table, listeners to the acceptor and supervision to the master link.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "ipc/stats.hpp"
#include "ipc/worker_start.hpp"
#include "net/http_response.hpp"
#include "net/ring.hpp"
#include "worker/access_log.hpp"
#include "worker/acceptor.hpp"
#include "worker/connections.hpp"
#include "worker/master_link.hpp"
#include "worker/pipe_pool.hpp"
#include "worker/router.hpp"
#include "worker/service.hpp"
#include "worker/worker_env.hpp"

namespace ringfork::worker {

class loop {
public:
    /// Sets up the ring, the buffer ring and the signal fd; `error` on failure.
    loop(const ipc::worker_start& start, const router& routes, std::string& error);

    /// Serves until drained or stopped; returns the process exit code. With `defer_ready`,
    /// accepting and READY wait for announce_ready().
    int run(bool defer_ready = false);
    /// Starts accepting and tells the master READY (once; on the loop's thread).
    void announce_ready();
    /// Called when draining begins (the app's on_drain hooks).
    void on_drain(std::function<void()> fn) { on_drain_ = std::move(fn); }
    /// What the kernel probe found.
    [[nodiscard]] const net::ring_features& features() const noexcept { return ring_.features(); }
    /// Registers a service (it must outlive the loop) and returns the id its ops carry.
    [[nodiscard]] std::uint8_t add_service(ring_service& s);
    /// The ring, for services that prepare their own ops.
    [[nodiscard]] net::ring& ring() noexcept { return ring_; }
    /// What the loop's parts share (clocks, settings, counters).
    [[nodiscard]] worker_env& env() noexcept { return env_; }
    /// Sends `m` to the master with the current stats (for services that report).
    void send_to_master(ipc::message& m) { link_.send(m, stats_); }

private:
    /// Every completion is decoded here, once, and routed to its one handler.
    void dispatch(const io_uring_cqe& cqe);
    /// Acts on what signals and the master asked for.
    void act_on_requests();
    void start_drain(std::uint64_t retire_for_ms = 0);
    void tick();
    [[nodiscard]] __kernel_timespec wait_time() const noexcept;

    const ipc::worker_start& start_;
    const ipc::worker_settings& settings_;
    net::ring ring_;
    net::buffer_ring buffers_;
    http::date_cache date_;
    ipc::worker_stats stats_;
    std::string scratch_;
    access_log access_log_;
    pipe_pool pipes_;
    worker_env env_;
    connection_table conns_;
    acceptor acceptor_;
    master_link link_;
    std::vector<ring_service*> services_;

    std::function<void()> on_drain_;
    std::uint64_t next_stats_ms_ = 0;
    std::uint64_t next_log_flush_ms_ = 0;
    bool draining_ = false;
    bool announced_ = false;
};

} // namespace ringfork::worker
