// What every part of a worker's loop shares: its settings, counters, clocks, routes and
// per-worker pools. Owns nothing; the loop creates it and keeps its clocks current.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>

#include "ipc/stats.hpp"
#include "ipc/worker_start.hpp"
#include "net/address.hpp"
#include "net/http_response.hpp"

namespace ringfork::worker {

class router;
class access_log;
class pipe_pool;
class task_calls;
class app_runtime;

struct worker_env {
    const router& routes;
    const http::date_cache& date;
    const ipc::worker_settings& settings;
    ipc::worker_stats& stats;
    std::string& scratch;       ///< Reused for path normalisation; never shrinks.
    bool draining = false;      ///< Answer with Connection: close from now on.
    access_log* log = nullptr;  ///< Records every response when enabled.
    std::time_t wall_now = 0;   ///< Wall-clock second, for the access log.
    std::uint64_t now_ms = 0;   ///< The loop's monotonic clock for this turn.
    std::uint64_t now_us = 0;
    pipe_pool* pipes = nullptr; ///< Pipes for spliced bodies (null in tests without a loop).
    const net::peer_ip* peer = nullptr; ///< The client of the connection being served (when logging).
    int client_fd = -1;                 ///< Its socket, to look the peer up for a handler.
    app_runtime* app = nullptr;         ///< The library's per-worker state (file roots, posts).
    int master_channel = -1;            ///< The channel to the master, for task messages (job_submit, job_cancel).
    task_calls* tasks = nullptr;        ///< This worker's task calls (when the master runs a pool).
};

} // namespace ringfork::worker
