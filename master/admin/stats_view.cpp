// Rendering the stats model: JSON, Prometheus text, tables and the model line format.
#include "master/admin/stats_view.hpp"

#include <algorithm>
#include <charconv>
#include <iterator>
#include <tuple>

#include <fmt/format.h>

#include "ipc/control.hpp"
#include "ipc/json_text.hpp"

namespace ringfork::master {

namespace {

using out_it = std::back_insert_iterator<std::string>;

constexpr const char* class_names[6] = {"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"};

/// In the order of ipc::upstream_failure.
constexpr const char* failure_names[ipc::upstream_failure_kinds] = {
    "connect", "connect_timeout", "closed", "first_byte_timeout", "idle_timeout",
    "malformed", "too_large", "truncated", "no_address", "capacity"};

std::string status_name(std::size_t slot)
{
    return slot < ipc::tracked_statuses.size() ? std::to_string(ipc::tracked_statuses[slot]) : "other";
}

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
        fmt::format_to(o, R"({}"{}":{})", i ? "," : "", failure_names[i], s.failures[i]);
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

/// Every serialised field of a snapshot, in wire order; S is worker_stats, const or not.
template <typename S, typename F> void for_each_field(S& s, F f)
{
    f(s.requests);
    for (auto& v : s.responses_by_class)
        f(v);
    for (auto& v : s.responses_by_status)
        f(v);
    f(s.bytes_in);
    f(s.bytes_out);
    f(s.connections_accepted);
    f(s.parse_errors);
    f(s.timeouts);
    f(s.tasks_submitted);
    f(s.tasks_rejected);
    f(s.connections_open);
    for (auto& v : s.latency.counts)
        f(v);
    f(s.latency.max_us);
    f(s.latency.sum_us);
}

/// Splits off the next space-separated token.
std::string_view next_token(std::string_view& line)
{
    const auto start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        line = {};
        return {};
    }
    line.remove_prefix(start);
    const auto end = line.find(' ');
    const std::string_view tok = line.substr(0, end);
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
    return tok;
}

template <typename T> bool read_number(std::string_view& line, T& v)
{
    const std::string_view tok = next_token(line);
    auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    return !tok.empty() && ec == std::errc{} && end == tok.data() + tok.size();
}

bool read_stats(std::string_view& line, ipc::worker_stats& s)
{
    bool ok = true;
    for_each_field(s, [&](auto& v) { ok = ok && read_number(line, v); });
    return ok;
}

void write_stats(out_it o, const ipc::worker_stats& s)
{
    for_each_field(s, [&](const auto& v) { fmt::format_to(o, " {}", v); });
}

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
        fmt::format_to(o, R"({}"{}":{})", i ? "," : "", status_name(i), t.responses_by_status[i]);
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

namespace {

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
                           prom_escape(u.name), class_names[c], u.stats.responses_by_class[c]);
    prom_head(o, "ringfork_upstream_failures_total", "counter", "Failed attempts, by cause.");
    for (const upstream_view& u : m.upstreams)
        for (std::size_t i = 0; i < ipc::upstream_failure_kinds; ++i)
            fmt::format_to(o, "ringfork_upstream_failures_total{{upstream=\"{}\",cause=\"{}\"}} {}\n",
                           prom_escape(u.name), failure_names[i], u.stats.failures[i]);
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
        fmt::format_to(o, "ringfork_responses_total{{class=\"{}\"}} {}\n", class_names[c], t.responses_by_class[c]);
    prom_head(o, "ringfork_error_responses_total", "counter", "4xx and 5xx responses by status.");
    for (std::size_t i = 0; i < ipc::status_slots; ++i)
        fmt::format_to(o, "ringfork_error_responses_total{{status=\"{}\"}} {}\n", status_name(i),
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
            errors += fmt::format("{}{} {}", errors.empty() ? "" : "  ", status_name(i), t.responses_by_status[i]);
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

std::string encode_model(const stats_model& m)
{
    std::string out;
    auto o = std::back_inserter(out);
    const master_view& ms = m.master;
    fmt::format_to(o, "{}\nmaster {} {} {} {} {} {} {} {}\ntotals", ipc::control::model_magic, ms.pid,
                   static_cast<std::uint64_t>(ms.uptime_s * 1000), ms.slots, ms.reloads, ms.upgrades, ms.respawns,
                   ms.stopping ? 1 : 0, ms.version.empty() ? "-" : ms.version);
    write_stats(o, m.totals);
    out += '\n';
    for (const auto& w : m.workers) {
        fmt::format_to(o, "worker {} {} {} {} {} {}", w.slot, w.pid, w.generation, w.state,
                       static_cast<std::uint64_t>(w.uptime_s * 1000), w.restarts);
        write_stats(o, w.stats);
        fmt::format_to(o, "\t{}\n", w.last_exit); // free text last, after a tab
    }
    return out;
}

std::optional<stats_model> decode_model(std::string_view text)
{
    stats_model m;
    bool magic = false, master = false, totals = false;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!magic) {
            if (line != ipc::control::model_magic)
                return std::nullopt;
            magic = true;
            continue;
        }
        const std::string_view kind = next_token(line);
        std::uint64_t ms = 0;
        if (kind == "master") {
            unsigned stopping = 0;
            if (!read_number(line, m.master.pid) || !read_number(line, ms) || !read_number(line, m.master.slots) ||
                !read_number(line, m.master.reloads) || !read_number(line, m.master.upgrades) ||
                !read_number(line, m.master.respawns) || !read_number(line, stopping))
                return std::nullopt;
            m.master.uptime_s = static_cast<double>(ms) / 1000.0;
            m.master.stopping = stopping != 0;
            m.master.version = std::string(next_token(line));
            master = true;
        } else if (kind == "totals") {
            if (!read_stats(line, m.totals))
                return std::nullopt;
            totals = true;
        } else if (kind == "worker") {
            const auto tab = line.find('\t');
            if (tab == std::string_view::npos)
                return std::nullopt;
            worker_view w;
            w.last_exit = std::string(line.substr(tab + 1));
            line = line.substr(0, tab);
            if (!read_number(line, w.slot) || !read_number(line, w.pid) || !read_number(line, w.generation))
                return std::nullopt;
            w.state = std::string(next_token(line));
            if (!read_number(line, ms) || !read_number(line, w.restarts) || !read_stats(line, w.stats))
                return std::nullopt;
            w.uptime_s = static_cast<double>(ms) / 1000.0;
            m.workers.push_back(std::move(w));
        } else if (!kind.empty()) {
            return std::nullopt;
        }
    }
    if (!magic || !master || !totals)
        return std::nullopt;
    return m;
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
