// What the master hands a worker process at fork: its slot, its channel, its listeners and
// its settings, and the one entry point the worker library provides. Owns that contract so
// master/ and worker/ never include each other.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ipc/accept_share.hpp"
#include "ipc/upstream_config.hpp"
#include "net/http_parser.hpp"

namespace ringfork::detail {
struct app_spec;
} // namespace ringfork::detail

namespace ringfork::ipc {

/// Settings a worker needs, fixed for the worker's whole life (a reload forks new workers).
struct worker_settings {
    bool demo = false;            ///< GET /plaintext and /json.
    bool welcome = false;         ///< A small page at GET / (the no-argument default).
    bool shared_accept = false;   ///< One listener shared by all slots: balance accepts.
    std::string root;             ///< Static files (empty: none).
    std::string index = "index.html";
    bool serve_dotfiles = false;
    bool autoindex = false;
    std::string access_log;       ///< Combined-format log path (empty: off); the master opens it.
    bool task_pool = false;       ///< The master runs a task pool: jobs go to it over the channel.
    std::string task_spool;       ///< The task spool (job states and outputs).
    unsigned task_timeout_ms = 30000; ///< Longest wait for a synchronous job (the master answers first).
    http::limits limits;
    unsigned max_connections = 10000;   ///< Per worker; accept pauses above it.
    unsigned header_timeout_ms = 10000; ///< Whole request head, from its first byte.
    unsigned body_timeout_ms = 30000;   ///< Between body bytes.
    unsigned idle_timeout_ms = 60000;   ///< Keep-alive connection with no request.
    unsigned send_timeout_ms = 30000;   ///< A response the client does not read.
    unsigned drain_idle_ms = 2000;      ///< While draining, an idle connection's last chance.
    /// A retiring worker (scale-down) keeps taking connections from its slot's queue this
    /// long: ones deferred by TCP_DEFER_ACCEPT reach the queue only when their first bytes
    /// arrive, or after the deferral.
    unsigned retire_accept_ms = 0;
    unsigned stats_interval_ms = 250;
    unsigned buffer_count = 512;        ///< Provided receive buffers per worker.
    unsigned buffer_size = 2048;
    proxy_settings proxy;               ///< --upstream, --proxy: upstreams and the prefixes sent to them.
};

/// Everything a freshly forked worker gets.
struct worker_start {
    unsigned slot = 0;
    std::uint32_t generation = 0;
    int master_pid = 0;
    int channel_fd = -1;              ///< This slot's end of its socketpair.
    std::vector<int> listen_fds;      ///< The listeners this worker accepts on.
    int access_log_fd = -1;           ///< --access-log, opened by the master; the worker owns this copy.
    accept_share* share = nullptr;    ///< Shared accept counters (shared mode), or null.
    const worker_settings* settings = nullptr;
    const ringfork::detail::app_spec* app = nullptr; ///< The application's registrations (null: none).
};

/// Runs a worker until it drains or is told to stop; returns the process exit code.
/// Defined by the worker library; the master calls it in the child right after fork.
int run_worker(const worker_start& start);

} // namespace ringfork::ipc
