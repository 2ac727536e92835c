// Rendering the stats model as JSON and as tables for people, and adding up upstreams'
// counters. Prometheus text is in stats_view_prometheus.cpp, the model's line format in
// stats_view_codec.cpp.
#include "master/admin/stats_view.hpp"

#include <algorithm>
#include <iterator>

#include <fmt/format.h>

#include "ipc/json_text.hpp"
#include "master/admin/stats_labels.hpp"

namespace ringfork::master {

namespace {

using out_it = std::back_insert_iterator<std::string>;

void latency_json(out_it o, const ipc::latency_histogram& h)
{
    fmt::format_to(o, R"({{"p50":{},"p90":{},"p99":{},"max":{}}})", h.quantile(0.5), h.quantile(0.9),
                   h.quantile(0.99), h.max_us);
}

void responses_json(out_it o, const ipc::worker_stats& s)
{
    fmt::format_to(o, R"({{"1xx":{},"2xx":{},"3xx":{},"4xx":{},"5xx":{}}})", s.responses_by_class[1],
                   s.responses_by_class[2], s.responses_by_class[3], s.responses_by_class[4],
                   s.responses_by_class[5]);
}

void worker_json(out_it o, const worker_view& w)
{
    fmt::format_to(o, R"({{"slot":{},"pid":{},"generation":{},"state":"{}","uptime_s":{:.3f},"requests":{},)",
                   w.slot, w.pid, w.generation, ipc::json_text(w.state), w.uptime_s, w.stats.requests);
    fmt::format_to(o, R"("responses":)");
    responses_json(o, w.stats);
    fmt::format_to(o, R"(,"connections_accepted":{},"connections_open":{},"bytes_in":{},"bytes_out":{},"latency_us":)",
                   w.stats.connections_accepted, w.stats.connections_open, w.stats.bytes_in, w.stats.bytes_out);
    latency_json(o, w.stats.latency);
    fmt::format_to(o, R"(,"restarts":{},"last_exit":)", w.restarts);
    if (w.last_exit.empty())
        fmt::format_to(o, "null}}");
    else
        fmt::format_to(o, R"("{}"}})", ipc::json_text(w.last_exit));
}

void upstream_json(out_it o, const upstream_view& u)
{
    const ipc::upstream_stats& s = u.stats;
    fmt::format_to(o, R"("{}":{{"requests":{},"responses":{{"1xx":{},"2xx":{},"3xx":{},"4xx":{},"5xx":{}}},"failures":{{)",
                   ipc::json_text(u.name), s.requests, s.responses_by_class[1], s.responses_by_class[2],
                   s.responses_by_class[3], s.responses_by_class[4], s.responses_by_class[5]);
    for (std::size_t i = 0; i < ipc::upstream_failure_kinds; ++i)
        fmt::format_to(o, R"({}"{}":{})", i ? "," : "", labels::failure_names[i], s.failures[i]);
    fmt::format_to(o, R"(}},"retries":{},"ejections":{},"connections":{},"latency_us":)", s.retries, s.ejections,
                   s.connections);
    latency_json(o, s.latency);
    *o++ = '}';
}

void app_json(out_it o, const app_view& a)
{
    fmt::format_to(o,
                   R"({{"app":"{}","index":{},"pid":{},"port":{},"generation":{},"state":"{}","uptime_s":{:.3f},)"
                   R"("requests":{},"restarts":{},"last_exit":)",
                   ipc::json_text(a.app), a.index, a.pid, a.port, a.generation, ipc::json_text(a.state), a.uptime_s,
                   a.requests, a.restarts);
    if (a.last_exit.empty())
        fmt::format_to(o, "null}}");
    else
        fmt::format_to(o, R"("{}"}})", ipc::json_text(a.last_exit));
}

} // namespace

std::string render_workers_json(const stats_model& m)
{
    std::string out = "[";
    for (std::size_t i = 0; i < m.workers.size(); ++i) {
        if (i)
            out += ',';
        worker_json(std::back_inserter(out), m.workers[i]);
    }
    out += ']';
    return out;
}

void add_upstream(std::vector<upstream_view>& out, std::string_view name, const ipc::upstream_stats& s)
{
    auto it = std::find_if(out.begin(), out.end(), [&](const upstream_view& u) { return u.name == name; });
    if (it == out.end())
        it = out.insert(out.end(), upstream_view{std::string(name), {}});
    it->stats.merge(s);
}

void add_upstreams(std::vector<upstream_view>& out, const std::vector<std::string>& names, const ipc::worker_stats& s)
{
    for (std::size_t i = 0; i < names.size() && i < s.upstreams.size(); ++i)
        add_upstream(out, names[i], s.upstreams[i]);
}

std::string render_apps_json(const stats_model& m)
{
    std::string out = "[";
    for (std::size_t i = 0; i < m.apps.size(); ++i) {
        if (i)
            out += ',';
        app_json(std::back_inserter(out), m.apps[i]);
    }
    out += ']';
    return out;
}

std::string render_apps_table(const stats_model& m)
{
    std::string out;
    auto o = std::back_inserter(out);
    fmt::format_to(o, "{:<14}{:<6}{:<9}{:<7}{:<5}{:<10}{:<9}{:>11}{:>9}  {}\n", "APP", "INDEX", "PID", "PORT", "GEN",
                   "STATE", "UPTIME", "REQUESTS", "RESTARTS", "LAST EXIT");
    for (const app_view& a : m.apps)
        fmt::format_to(o, "{:<14}{:<6}{:<9}{:<7}{:<5}{:<10}{:<9}{:>11}{:>9}  {}\n", a.app, a.index,
                       a.pid ? std::to_string(a.pid) : "-", a.port, a.generation, a.state, format_duration(a.uptime_s),
                       a.requests, a.restarts, a.last_exit.empty() ? "-" : a.last_exit);
    return out;
}

std::string render_json(const stats_model& m)
{
    std::string out;
    auto o = std::back_inserter(out);
    const master_view& ms = m.master;
    fmt::format_to(o,
                   R"({{"master":{{"pid":{},"version":"{}","uptime_s":{:.3f},"slots":{},)"
                   R"("reloads":{},"upgrades":{},"respawns":{},"stopping":{}}},)",
                   ms.pid, ipc::json_text(ms.version), ms.uptime_s, ms.slots, ms.reloads, ms.upgrades, ms.respawns,
                   ms.stopping);
    const ipc::worker_stats& t = m.totals;
    fmt::format_to(o, R"("totals":{{"requests":{},"responses":)", t.requests);
    responses_json(o, t);
    out += R"(,"status":{)";
    for (std::size_t i = 0; i < ipc::status_slots; ++i)
        fmt::format_to(o, R"({}"{}":{})", i ? "," : "", labels::status_name(i), t.responses_by_status[i]);
    fmt::format_to(o,
                   R"(}},"connections_accepted":{},"connections_open":{},"bytes_in":{},"bytes_out":{},)"
                   R"("parse_errors":{},"timeouts":{},"latency_us":)",
                   t.connections_accepted, t.connections_open, t.bytes_in, t.bytes_out, t.parse_errors, t.timeouts);
    latency_json(o, t.latency);
    // The raw buckets let a viewer compute quantiles over any interval from two samples.
    out += R"(,"latency_buckets":[)";
    for (std::size_t i = 0; i < ipc::latency_buckets; ++i)
        fmt::format_to(o, "{}{}", i ? "," : "", t.latency.counts[i]);
    out += R"(]},"tasks":)";
    const ipc::task_stats& k = m.tasks;
    fmt::format_to(o,
                   R"({{"runners":{},"submitted":{},"rejected":{},"queued":{},"running":{},"done":{},)"
                   R"("failed":{},"timed_out":{},"cancelled":{},"errors":{},"latency_us":)",
                   m.task_runners, k.submitted, k.rejected, m.task_queued, m.task_running, k.ok, k.failed,
                   k.timed_out, k.cancelled, k.errors);
    latency_json(o, k.latency);
    out += R"(,"jobs":)";
    out += render_task_jobs_json(m);
    out += R"(},"upstreams":{)";
    for (std::size_t i = 0; i < m.upstreams.size(); ++i) {
        if (i)
            out += ',';
        upstream_json(o, m.upstreams[i]);
    }
    out += R"(},"apps":)";
    out += render_apps_json(m);
    out += R"(,"workers":)";
    out += render_workers_json(m);
    out += "}\n";
    return out;
}


std::string render_stats_table(const stats_model& m)
{
    std::string out;
    auto o = std::back_inserter(out);
    const master_view& ms = m.master;
    const ipc::worker_stats& t = m.totals;
    fmt::format_to(o, "ringfork {}  master pid {}  up {}  workers {}/{}{}\n", ms.version, ms.pid,
                   format_duration(ms.uptime_s), m.workers.size(), ms.slots, ms.stopping ? "  STOPPING" : "");
    fmt::format_to(o, "{:<13}respawns {}  reloads {}  upgrades {}\n", "master", ms.respawns, ms.reloads, ms.upgrades);
    fmt::format_to(o, "{:<13}{}\n", "requests", t.requests);
    fmt::format_to(o, "{:<13}1xx {}  2xx {}  3xx {}  4xx {}  5xx {}\n", "responses", t.responses_by_class[1],
                   t.responses_by_class[2], t.responses_by_class[3], t.responses_by_class[4], t.responses_by_class[5]);
    std::string errors;
    for (std::size_t i = 0; i < ipc::status_slots; ++i)
        if (t.responses_by_status[i])
            errors += fmt::format("{}{} {}", errors.empty() ? "" : "  ", labels::status_name(i), t.responses_by_status[i]);
    if (!errors.empty())
        fmt::format_to(o, "{:<13}{}\n", "errors", errors);
    fmt::format_to(o, "{:<13}accepted {}  open {}\n", "connections", t.connections_accepted, t.connections_open);
    fmt::format_to(o, "{:<13}in {}  out {}\n", "bytes", format_bytes(t.bytes_in), format_bytes(t.bytes_out));
    fmt::format_to(o, "{:<13}p50 {}  p90 {}  p99 {}  max {}\n", "latency", format_latency(t.latency.quantile(0.5)),
                   format_latency(t.latency.quantile(0.9)), format_latency(t.latency.quantile(0.99)),
                   format_latency(t.latency.max_us));
    return out;
}

std::string render_task_jobs_json(const stats_model& m)
{
    std::string out = "[";
    auto o = std::back_inserter(out);
    for (std::size_t i = 0; i < m.task_jobs.size(); ++i) {
        const job_view& j = m.task_jobs[i];
        fmt::format_to(o, R"({}{{"id":"{}","task":"{}","state":"{}","elapsed_s":{:.3f},"runner_pid":{}}})",
                       i ? "," : "", ipc::json_text(j.id), ipc::json_text(j.task), ipc::json_text(j.state), j.elapsed_s,
                       j.runner_pid);
    }
    out += "]";
    return out;
}

std::string render_task_jobs_table(const stats_model& m)
{
    std::string out;
    auto o = std::back_inserter(out);
    fmt::format_to(o, "{:<34}{:<20}{:<9}{:>9}  {}\n", "ID", "TASK", "STATE", "ELAPSED", "RUNNER");
    for (const job_view& j : m.task_jobs)
        fmt::format_to(o, "{:<34}{:<20}{:<9}{:>9}  {}\n", j.id, j.task, j.state, format_duration(j.elapsed_s),
                       j.runner_pid ? std::to_string(j.runner_pid) : "-");
    fmt::format_to(o, "{} running, {} queued\n", m.task_running, m.task_queued);
    return out;
}

std::string render_workers_table(const stats_model& m)
{
    std::string out;
    auto o = std::back_inserter(out);
    fmt::format_to(o, "{:<5}{:<9}{:<5}{:<10}{:<9}{:>11}{:>7}{:>9}{:>9}{:>9}  {}\n", "SLOT", "PID", "GEN", "STATE",
                   "UPTIME", "REQUESTS", "OPEN", "P50", "P99", "RESTARTS", "LAST EXIT");
    for (const auto& w : m.workers)
        fmt::format_to(o, "{:<5}{:<9}{:<5}{:<10}{:<9}{:>11}{:>7}{:>9}{:>9}{:>9}  {}\n", w.slot, w.pid, w.generation,
                       w.state, format_duration(w.uptime_s), w.stats.requests, w.stats.connections_open,
                       format_latency(w.stats.latency.quantile(0.5)), format_latency(w.stats.latency.quantile(0.99)),
                       w.restarts, w.last_exit.empty() ? "-" : w.last_exit);
    return out;
}

std::string format_latency(std::uint64_t us)
{
    if (us < 1000)
        return fmt::format("{}us", us);
    if (us < 1'000'000)
        return fmt::format("{:.1f}ms", static_cast<double>(us) / 1e3);
    return fmt::format("{:.2f}s", static_cast<double>(us) / 1e6);
}

std::string format_duration(double seconds)
{
    const auto s = static_cast<std::uint64_t>(seconds < 0 ? 0 : seconds);
    if (s < 60)
        return fmt::format("{}s", s);
    if (s < 3600)
        return fmt::format("{}m{:02}s", s / 60, s % 60);
    if (s < 86400)
        return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
    return fmt::format("{}d{:02}h", s / 86400, s % 86400 / 3600);
}

std::string format_bytes(std::uint64_t bytes)
{
    if (bytes < 1024)
        return fmt::format("{} B", bytes);
    constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes) / 1024.0;
    std::size_t u = 0;
    while (v >= 1024.0 && u + 1 < std::size(units)) {
        v /= 1024.0;
        ++u;
    }
    return fmt::format("{:.1f} {}", v, units[u]);
}

} // namespace ringfork::master
