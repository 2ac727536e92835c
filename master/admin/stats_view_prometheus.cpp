// The stats model as Prometheus text (exposition format 0.0.4): GET /metrics and
// `ringfork ctl metrics`. The other views are in stats_view.cpp.
#include "master/admin/stats_view.hpp"

#include <algorithm>
#include <iterator>
#include <tuple>

#include <fmt/format.h>

#include "master/admin/stats_labels.hpp"

namespace ringfork::master {

namespace {

using out_it = std::back_insert_iterator<std::string>;

std::string prom_escape(std::string_view s)
{
    std::string r;
    for (char c : s) {
        if (c == '\\' || c == '"')
            r += '\\';
        r += c == '\n' ? 'n' : c;
    }
    return r;
}

/// One "# HELP" and "# TYPE" pair.
void prom_head(out_it o, std::string_view name, std::string_view type, std::string_view help)
{
    fmt::format_to(o, "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

/// The series of one histogram; `labels` is empty or `name="value"` pairs, each with a
/// trailing comma. Bucket i holds samples below 2^i us, so 2^i us is an inclusive upper
/// bound for it.
void prom_histogram(out_it o, std::string_view name, std::string_view labels, const ipc::latency_histogram& h)
{
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i + 1 < ipc::latency_buckets; ++i) {
        cumulative += h.counts[i];
        fmt::format_to(o, "{}_bucket{{{}le=\"{}\"}} {}\n", name, labels,
                       static_cast<double>(std::uint64_t(1) << i) / 1e6, cumulative);
    }
    fmt::format_to(o, "{}_bucket{{{}le=\"+Inf\"}} {}\n", name, labels, h.total());
    const std::string_view bare = labels.empty() ? labels : labels.substr(0, labels.size() - 1);
    const std::string braces = bare.empty() ? std::string() : fmt::format("{{{}}}", bare);
    fmt::format_to(o, "{}_sum{} {}\n", name, braces, static_cast<double>(h.sum_us) / 1e6);
    fmt::format_to(o, "{}_count{} {}\n", name, braces, h.total());
}

/// Per upstream (by name, summed over exited and live workers, so never going backwards)
/// and per app.
void render_upstream_metrics(out_it o, const stats_model& m)
{
    if (m.upstreams.empty())
        return;
    const auto each = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
        prom_head(o, name, type, help);
        for (const upstream_view& u : m.upstreams)
            fmt::format_to(o, "{}{{upstream=\"{}\"}} {}\n", name, prom_escape(u.name), value(u.stats));
    };
    each("ringfork_upstream_requests_total", "counter", "Requests routed to the upstream (each once, retries or not).",
         [](const ipc::upstream_stats& s) { return s.requests; });
    prom_head(o, "ringfork_upstream_responses_total", "counter", "Upstream responses relayed, by status class.");
    for (const upstream_view& u : m.upstreams)
        for (std::size_t c = 1; c <= 5; ++c)
            fmt::format_to(o, "ringfork_upstream_responses_total{{upstream=\"{}\",class=\"{}\"}} {}\n",
                           prom_escape(u.name), labels::class_names[c], u.stats.responses_by_class[c]);
    prom_head(o, "ringfork_upstream_failures_total", "counter", "Failed attempts, by cause.");
    for (const upstream_view& u : m.upstreams)
        for (std::size_t i = 0; i < ipc::upstream_failure_kinds; ++i)
            fmt::format_to(o, "ringfork_upstream_failures_total{{upstream=\"{}\",cause=\"{}\"}} {}\n",
                           prom_escape(u.name), labels::failure_names[i], u.stats.failures[i]);
    each("ringfork_upstream_retries_total", "counter", "Attempts after a request's first.",
         [](const ipc::upstream_stats& s) { return s.retries; });
    each("ringfork_upstream_ejections_total", "counter", "Addresses ejected by passive health checks.",
         [](const ipc::upstream_stats& s) { return s.ejections; });
    each("ringfork_upstream_connections_total", "counter", "Connections opened to the upstream.",
         [](const ipc::upstream_stats& s) { return s.connections; });
    prom_head(o, "ringfork_upstream_response_seconds", "histogram",
              "Time from a request's dispatch to the upstream's response head.");
    for (const upstream_view& u : m.upstreams)
        prom_histogram(o, "ringfork_upstream_response_seconds", fmt::format("upstream=\"{}\",", prom_escape(u.name)),
                       u.stats.latency);
    if (m.apps.empty())
        return;
    std::vector<std::string> apps;
    for (const app_view& a : m.apps)
        if (std::find(apps.begin(), apps.end(), a.app) == apps.end())
            apps.push_back(a.app);
    prom_head(o, "ringfork_app_instances", "gauge", "App instances by state.");
    for (const std::string& app : apps)
        for (std::string_view st : {"starting", "ready", "draining", "stopping"})
            fmt::format_to(o, "ringfork_app_instances{{app=\"{}\",state=\"{}\"}} {}\n", prom_escape(app), st,
                           std::count_if(m.apps.begin(), m.apps.end(),
                                         [&](const app_view& a) { return a.app == app && a.state == st; }));
}

} // namespace

std::string render_prometheus(const stats_model& m)
{
    std::string out;
    auto o = std::back_inserter(out);
    const ipc::worker_stats& t = m.totals;
    prom_head(o, "ringfork_build_info", "gauge", "Version of the running master.");
    fmt::format_to(o, "ringfork_build_info{{version=\"{}\"}} 1\n", prom_escape(m.master.version));
    prom_head(o, "ringfork_master_uptime_seconds", "gauge", "Seconds since the master started.");
    fmt::format_to(o, "ringfork_master_uptime_seconds {:.3f}\n", m.master.uptime_s);
    prom_head(o, "ringfork_worker_slots", "gauge", "Configured worker slots.");
    fmt::format_to(o, "ringfork_worker_slots {}\n", m.master.slots);
    prom_head(o, "ringfork_stopping", "gauge", "1 while the master is stopping.");
    fmt::format_to(o, "ringfork_stopping {}\n", m.master.stopping ? 1 : 0);
    for (auto [name, value, help] :
         {std::tuple{"ringfork_reloads_total", m.master.reloads, "Configuration reloads (rolling restarts)."},
          std::tuple{"ringfork_upgrades_total", m.master.upgrades, "Binary upgrades."},
          std::tuple{"ringfork_respawns_total", m.master.respawns, "Workers refilled after an unexpected exit."},
          std::tuple{"ringfork_requests_total", t.requests, "Requests parsed by all workers, past and present."},
          std::tuple{"ringfork_connections_accepted_total", t.connections_accepted, "Connections accepted."},
          std::tuple{"ringfork_received_bytes_total", t.bytes_in, "Bytes received from clients."},
          std::tuple{"ringfork_sent_bytes_total", t.bytes_out, "Bytes sent to clients."},
          std::tuple{"ringfork_parse_errors_total", t.parse_errors, "Requests rejected by the parser."},
          std::tuple{"ringfork_timeouts_total", t.timeouts, "Connections ended by a timeout."},
          std::tuple{"ringfork_tasks_submitted_total", m.tasks.submitted, "Jobs handed to the task pool."},
          std::tuple{"ringfork_tasks_rejected_total", m.tasks.rejected,
                     "Jobs refused: queue full, waited too long in it, or the server stopping."},
          std::tuple{"ringfork_tasks_done_total", m.tasks.ok, "Jobs that exited 0."},
          std::tuple{"ringfork_tasks_failed_total", m.tasks.failed, "Jobs that failed: non-zero exit, output cap, no space."},
          std::tuple{"ringfork_tasks_timed_out_total", m.tasks.timed_out, "Jobs killed at their timeout."},
          std::tuple{"ringfork_tasks_cancelled_total", m.tasks.cancelled, "Jobs cancelled, or whose client left."},
          std::tuple{"ringfork_tasks_errors_total", m.tasks.errors, "Jobs whose runner died or that a signal ended."}}) {
        prom_head(o, name, "counter", help);
        fmt::format_to(o, "{} {}\n", name, value);
    }
    prom_head(o, "ringfork_responses_total", "counter", "Responses by status class.");
    for (std::size_t c = 1; c <= 5; ++c)
        fmt::format_to(o, "ringfork_responses_total{{class=\"{}\"}} {}\n", labels::class_names[c], t.responses_by_class[c]);
    prom_head(o, "ringfork_error_responses_total", "counter", "4xx and 5xx responses by status.");
    for (std::size_t i = 0; i < ipc::status_slots; ++i)
        fmt::format_to(o, "ringfork_error_responses_total{{status=\"{}\"}} {}\n", labels::status_name(i),
                       t.responses_by_status[i]);
    prom_head(o, "ringfork_connections_open", "gauge", "Connections open now.");
    fmt::format_to(o, "ringfork_connections_open {}\n", t.connections_open);
    prom_head(o, "ringfork_tasks_queued", "gauge", "Jobs waiting for a task runner now.");
    fmt::format_to(o, "ringfork_tasks_queued {}\n", m.task_queued);
    prom_head(o, "ringfork_tasks_running", "gauge", "Jobs running now.");
    fmt::format_to(o, "ringfork_tasks_running {}\n", m.task_running);

    prom_head(o, "ringfork_request_duration_seconds", "histogram",
              "Time from a request's first byte to its response sent.");
    prom_histogram(o, "ringfork_request_duration_seconds", "", t.latency);
    render_upstream_metrics(o, m);

    // Per worker, labelled by slot only: a restarted worker's counters start again from
    // zero, which Prometheus' rate() treats as a counter reset. While a slot briefly has
    // two workers (old draining, new starting) only the newer one is shown, so no series
    // appears twice.
    std::vector<const worker_view*> newest;
    for (const auto& w : m.workers) {
        auto same = std::find_if(newest.begin(), newest.end(), [&](const worker_view* x) { return x->slot == w.slot; });
        if (same == newest.end())
            newest.push_back(&w);
        else if ((*same)->generation < w.generation)
            *same = &w;
    }
    prom_head(o, "ringfork_worker_requests_total", "counter", "Requests parsed by the slot's current worker.");
    for (const worker_view* pw : newest)
        fmt::format_to(o, "ringfork_worker_requests_total{{slot=\"{}\"}} {}\n", pw->slot, pw->stats.requests);
    prom_head(o, "ringfork_worker_connections_open", "gauge", "Connections open in the slot's current worker.");
    for (const worker_view* pw : newest)
        fmt::format_to(o, "ringfork_worker_connections_open{{slot=\"{}\"}} {}\n", pw->slot,
                       pw->stats.connections_open);
    prom_head(o, "ringfork_worker_uptime_seconds", "gauge", "Seconds since the slot's current worker started.");
    for (const worker_view* pw : newest)
        fmt::format_to(o, "ringfork_worker_uptime_seconds{{slot=\"{}\"}} {:.3f}\n", pw->slot, pw->uptime_s);
    prom_head(o, "ringfork_worker_restarts_total", "counter", "Unexpected exits of the slot's workers.");
    for (const worker_view* pw : newest)
        fmt::format_to(o, "ringfork_worker_restarts_total{{slot=\"{}\"}} {}\n", pw->slot, pw->restarts);
    prom_head(o, "ringfork_worker_state", "gauge", "1 for the state the worker is in.");
    for (const worker_view* pw : newest)
        for (std::string_view st : {"starting", "ready", "draining"})
            fmt::format_to(o, "ringfork_worker_state{{slot=\"{}\",state=\"{}\"}} {}\n", pw->slot, st,
                           pw->state == st ? 1 : 0);
    return out;
}

} // namespace ringfork::master
