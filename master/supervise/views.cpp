// The master's stats model and its two outlets: the control socket's commands and the
// admin listener's routes. Each control command is one function, registered in one table.
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <ctime>

#include "ipc/control.hpp"
#include "master/admin/dashboard.hpp"
#include "master/supervise/supervisor.hpp"
#include "net/clock.hpp"
#include "net/log.hpp"

namespace ringfork::master {

namespace {


constexpr std::string_view prometheus_type = "text/plain; version=0.0.4; charset=utf-8";

} // namespace

bool supervisor::open_control_and_admin()
{
    std::string error;
    if (!opts_.control_path.empty() && inherited_control_fd_ >= 0) {
        control_.adopt(inherited_control_fd_, opts_.control_path);
        register_commands();
        net::log::info("control socket: {} (inherited)", control_.path());
    } else if (!opts_.control_path.empty()) {
        if (!control_.open(opts_.control_path, error)) {
            net::log::error("{}", error);
            return false;
        }
        register_commands();
        net::log::info("control socket: {}", control_.path());
    }
    if (!opts_.admin.empty() && inherited_admin_fd_ >= 0) {
        admin_.adopt(inherited_admin_fd_, [this](std::string_view path) { return admin_route(path); });
        net::log::info("admin: http://{}/", admin_.address().to_string());
    } else if (!opts_.admin.empty()) {
        if (!admin_.open(opts_.admin[0], [this](std::string_view path) { return admin_route(path); }, error)) {
            net::log::error("admin {}", error);
            return false;
        }
        net::log::info("admin: http://{}/", admin_.address().to_string());
    }
    return true;
}

// Adding a command is one function and one line here.
void supervisor::register_commands()
{
    namespace c = ipc::control;
    control_.add(c::cmd_stats, [this](std::string_view a) { return cmd_stats(a); });
    control_.add(c::cmd_workers, [this](std::string_view a) { return cmd_workers(a); });
    control_.add(c::cmd_apps, [this](std::string_view a) { return cmd_apps(a); });
    control_.add(c::cmd_metrics, [this](std::string_view a) { return cmd_metrics(a); });
    control_.add(c::cmd_model, [this](std::string_view a) { return cmd_model(a); });
    control_.add(c::cmd_stop, [this](std::string_view a) { return cmd_stop(a); });
    control_.add(c::cmd_reload, [this](std::string_view a) { return cmd_reload(a); });
    control_.add(c::cmd_upgrade, [this](std::string_view a) { return cmd_upgrade(a); });
    control_.add(c::cmd_scale, [this](std::string_view a) { return cmd_scale(a); });
    control_.add(c::cmd_tasks, [this](std::string_view a) { return cmd_tasks(a); });
    control_.add(c::cmd_cancel, [this](std::string_view a) { return cmd_cancel(a); });
}

stats_model supervisor::model() const
{
    const std::uint64_t now = net::monotonic_ms();
    stats_model m;
    m.master.pid = getpid();
    m.master.version = RINGFORK_VERSION;
    m.master.uptime_s = static_cast<double>(now - started_ms_) / 1000.0;
    m.master.slots = static_cast<unsigned>(slots_.size());
    m.master.reloads = reloads_;
    m.master.upgrades = upgrades_;
    m.master.respawns = respawns_ + inherited_respawns_;
    m.master.stopping = stopping_;
    m.totals = exited_totals_;
    m.totals.merge(inherited_);
    if (pool_) {
        m.tasks = pool_->totals();
        m.task_runners = pool_->live_runners();
        m.task_queued = pool_->queued();
        m.task_running = pool_->running();
        m.task_jobs = pool_->jobs(now);
    }
    for (const worker_proc& w : workers_) {
        m.totals.merge(w.last);
        worker_view v;
        v.slot = w.slot;
        v.pid = w.pid;
        v.generation = w.generation;
        v.state = w.state == worker_state::starting ? "starting"
                  : w.state == worker_state::ready  ? "ready"
                                                    : "draining";
        v.uptime_s = static_cast<double>(now - w.started_ms) / 1000.0;
        v.restarts = slots_[w.slot].restarts;
        v.last_exit = slots_[w.slot].last_exit;
        v.stats = w.last;
        m.workers.push_back(std::move(v));
    }
    std::sort(m.workers.begin(), m.workers.end(), [](const worker_view& a, const worker_view& b) {
        return a.slot != b.slot ? a.slot < b.slot : a.generation < b.generation;
    });
    // Per upstream by name: the current ones in their order first, then any a reload removed.
    if (upstream_names_)
        for (const std::string& name : *upstream_names_)
            m.upstreams.push_back({name, {}});
    add_upstreams(m.upstreams, upstream_names_ ? *upstream_names_ : std::vector<std::string>{}, inherited_);
    for (const upstream_view& u : exited_upstreams_)
        add_upstream(m.upstreams, u.name, u.stats);
    for (const worker_proc& w : workers_)
        if (w.upstreams)
            add_upstreams(m.upstreams, *w.upstreams, w.last);
    if (apps_) {
        std::vector<app_supervisor::worker_snapshot> live;
        for (const worker_proc& w : workers_)
            live.push_back({w.pid, &w.last});
        m.apps = apps_->view(live, now);
    }
    return m;
}

void supervisor::note_upstream_names()
{
    auto names = std::make_shared<std::vector<std::string>>();
    for (const ipc::upstream_settings& u : opts_.worker.proxy.upstreams)
        names->push_back(u.name);
    upstream_names_ = std::move(names);
}

admin_response supervisor::admin_route(std::string_view path) const
{
    if (path == "/stats")
        return {200, "application/json", render_json(model())};
    if (path == "/metrics")
        return {200, prometheus_type, render_prometheus(model())};
    if (path == "/healthz")
        return {200, "text/plain; charset=utf-8", "ok\n"};
    if (path == "/readyz") {
        const bool serving = std::any_of(workers_.begin(), workers_.end(),
                                         [](const worker_proc& w) { return w.state == worker_state::ready; });
        if (stopping_ || !serving)
            return {503, "text/plain; charset=utf-8", stopping_ ? "stopping\n" : "starting\n"};
        return {200, "text/plain; charset=utf-8", "ready\n"};
    }
    if (path == "/")
        return {200, "text/html; charset=utf-8", std::string(dashboard_html)};
    return {404, "text/plain; charset=utf-8", "not found: try /, /stats, /metrics, /healthz, /readyz\n"};
}

control_reply supervisor::cmd_stats(std::string_view argument) const
{
    if (argument == "json")
        return {true, render_json(model())};
    if (!argument.empty())
        return {false, "usage: stats [json]"};
    return {true, render_stats_table(model())};
}

control_reply supervisor::cmd_workers(std::string_view argument) const
{
    if (argument == "json")
        return {true, render_workers_json(model()) + "\n"};
    if (!argument.empty())
        return {false, "usage: workers [json]"};
    return {true, render_workers_table(model())};
}

control_reply supervisor::cmd_apps(std::string_view argument) const
{
    if (argument == "json")
        return {true, render_apps_json(model()) + "\n"};
    if (!argument.empty())
        return {false, "usage: apps [json]"};
    return {true, render_apps_table(model())};
}

control_reply supervisor::cmd_metrics(std::string_view) const
{
    return {true, render_prometheus(model())};
}

control_reply supervisor::cmd_model(std::string_view) const
{
    return {true, encode_model(model())};
}

control_reply supervisor::cmd_stop(std::string_view)
{
    if (!stopping_) {
        net::log::info("control: graceful stop");
        begin_stop(true);
    }
    return {true, "stopping\n"};
}

control_reply supervisor::cmd_tasks(std::string_view argument) const
{
    if (!pool_)
        return {false, "tasks: no task pool (no --task configured)"};
    if (argument == "json")
        return {true, render_task_jobs_json(model()) + "\n"};
    if (!argument.empty())
        return {false, "usage: tasks [json]"};
    return {true, render_task_jobs_table(model())};
}

control_reply supervisor::cmd_cancel(std::string_view argument)
{
    if (!pool_)
        return {false, "cancel: no task pool (no --task configured)"};
    if (!ipc::valid_job_id(argument))
        return {false, "usage: cancel ID (a job id: 32 lower-case hex digits)"};
    std::string what;
    const ipc::cancel_result r = pool_->cancel(argument, net::monotonic_ms(), what);
    if (r == ipc::cancel_result::unknown)
        return {false, fmt::format("cancel {}: {}", argument, what)};
    return {true, fmt::format("{}: {}\n", argument, what)};
}

control_reply supervisor::cmd_reload(std::string_view)
{
    if (stopping_ || handed_over_)
        return {false, "reload: the server is stopping"};
    const std::uint64_t before = reloads_;
    start_reload();
    if (!rolling_ && reloads_ == before)
        return {false, "reload rejected: see the error log for the configuration error"};
    return {true, fmt::format("reload: rolling restart of {} slots started\n", slots_.size())};
}

control_reply supervisor::cmd_upgrade(std::string_view)
{
    if (stopping_ || handed_over_ || successor_)
        return {false, successor_ ? "upgrade: one is already in progress" : "upgrade: the server is stopping"};
    start_upgrade();
    if (!successor_)
        return {false, "upgrade failed: see the error log"};
    return {true, fmt::format("upgrade: new master {} started; it takes over once its workers are ready\n",
                              successor_)};
}

control_reply supervisor::cmd_scale(std::string_view argument)
{
    unsigned n = 0;
    const auto [end, ec] = std::from_chars(argument.data(), argument.data() + argument.size(), n);
    if (argument.empty() || ec != std::errc{} || end != argument.data() + argument.size() || n < 1 ||
        n > ipc::max_slots)
        return {false, fmt::format("usage: scale N (1 to {})", ipc::max_slots)};
    if (stopping_ || handed_over_)
        return {false, "scale: the server is stopping"};
    scale_to(n);
    return {true, fmt::format("scale: {} workers\n", n)};
}

} // namespace ringfork::master
