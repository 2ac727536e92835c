// What the master knows about its workers, as one plain model, and every way it is shown:
// the /stats JSON, the Prometheus text, the tables of `ringfork ctl`, and the line format
// that carries the model to `ringfork ctl`/`ringfork top`. Pure functions only; leaves
// collecting the model to the master and transporting it to admin_http and control.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/stats.hpp"
#include "ipc/task_protocol.hpp"
#include "master/tasks/job_view.hpp"

namespace ringfork::master {

/// The master's own figures.
struct master_view {
    std::int64_t pid = 0;
    std::string version;
    double uptime_s = 0;
    unsigned slots = 0;          ///< Configured worker slots.
    std::uint64_t reloads = 0;
    std::uint64_t upgrades = 0;
    std::uint64_t respawns = 0;  ///< Workers refilled after an unexpected exit.
    bool stopping = false;
};

/// One live worker process.
struct worker_view {
    unsigned slot = 0;
    std::int64_t pid = 0;
    std::uint32_t generation = 0;
    std::string state;           ///< "starting", "ready" or "draining".
    double uptime_s = 0;
    unsigned restarts = 0;       ///< Of its slot, since the master started.
    std::string last_exit;       ///< Of its slot's previous worker; empty if none.
    ipc::worker_stats stats{};   ///< Its last cumulative snapshot.
};

/// One upstream's counters: exited and live workers', added up by the upstream's name.
struct upstream_view {
    std::string name;
    ipc::upstream_stats stats{};
};

/// One instance of a supervised app (--app).
struct app_view {
    std::string app;
    unsigned index = 0;
    std::int64_t pid = 0;         ///< The application's; 0 until its keeper reported it.
    unsigned port = 0;
    std::uint32_t generation = 0; ///< Its app's configuration generation (one more per reload).
    std::string state;            ///< "starting", "ready", "draining" or "stopping".
    double uptime_s = 0;
    std::uint64_t requests = 0;   ///< Sent to it by the workers, exited ones included.
    unsigned restarts = 0;        ///< Unexpected ends of the instances of its index.
    std::string last_exit;        ///< How the previous instance of its index ended; empty if none.
};

/// Everything shown; totals = retired workers' sum + every live worker's last snapshot.
struct stats_model {
    master_view master;
    ipc::worker_stats totals{};
    std::vector<worker_view> workers;
    ipc::task_stats tasks{};   ///< The task broker's counters.
    unsigned task_runners = 0; ///< Runner processes alive now.
    std::size_t task_queued = 0;  ///< Jobs waiting for a runner now.
    std::size_t task_running = 0; ///< Jobs running now.
    std::vector<job_view> task_jobs; ///< Running then queued (not in encode_model).
    std::vector<upstream_view> upstreams; ///< --upstream and --app, in their order, then removed ones.
    std::vector<app_view> apps;           ///< Every app instance, by app and index.
};

/// The GET /stats document: {"master":…, "totals":…, "workers":[…]}.
[[nodiscard]] std::string render_json(const stats_model& m);
/// Just the "workers" array of render_json.
[[nodiscard]] std::string render_workers_json(const stats_model& m);
/// The GET /metrics text (Prometheus exposition format 0.0.4; stats_view_prometheus.cpp).
[[nodiscard]] std::string render_prometheus(const stats_model& m);
/// `ringfork ctl stats`: the master line and the totals, for people.
[[nodiscard]] std::string render_stats_table(const stats_model& m);
/// The running and queued jobs as a JSON array.
[[nodiscard]] std::string render_task_jobs_json(const stats_model& m);
/// `ringfork ctl tasks`: one row per running or queued job, for people.
[[nodiscard]] std::string render_task_jobs_table(const stats_model& m);
/// `ringfork ctl workers`: one row per worker, for people.
[[nodiscard]] std::string render_workers_table(const stats_model& m);

/// Adds one upstream's counters to its entry of `out` (made if missing).
void add_upstream(std::vector<upstream_view>& out, std::string_view name, const ipc::upstream_stats& s);
/// Adds `s`'s per-upstream counters to `out` by name: `names` are its upstreams' names in
/// the order of its settings (a reload may add, drop or move them).
void add_upstreams(std::vector<upstream_view>& out, const std::vector<std::string>& names, const ipc::worker_stats& s);

/// `ringfork ctl apps`: one row per app instance, for people.
[[nodiscard]] std::string render_apps_table(const stats_model& m);
/// `ringfork ctl apps --json`, and "apps" in /stats: the instances as a JSON array.
[[nodiscard]] std::string render_apps_json(const stats_model& m);

/// The control socket's "model" body: a versioned line format, one line per record
/// (stats_view_codec.cpp).
[[nodiscard]] std::string encode_model(const stats_model& m);
/// Reads encode_model's output back; nullopt on another version or a malformed line.
[[nodiscard]] std::optional<stats_model> decode_model(std::string_view text);

/// "812us", "3.4ms", "1.25s".
[[nodiscard]] std::string format_latency(std::uint64_t us);
/// "42s", "5m03s", "2h10m", "3d04h".
[[nodiscard]] std::string format_duration(double seconds);
/// "512 B", "1.5 KiB", "12.0 MiB".
[[nodiscard]] std::string format_bytes(std::uint64_t bytes);

} // namespace ringfork::master
