// The flag table.
#include "master/config/flag_table.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

#include "master/config/flag_values.hpp"

namespace ringfork::master {

namespace {

using sv = std::string_view;

// Flags that ask for an action; listed in the usage's opening lines, not in a section.
const flag_spec actions[] = {
    {"--help", "", "this text", nullptr, action::help, "-h"},
    {"--version", "", "the version", nullptr, action::version},
};

const flag_spec processes[] = {
    {"--listen", "ADDR:PORT", "listen address, repeatable; IPv4, [IPv6], *:PORT (default 127.0.0.1:8080)",
     [](options& o, sv v) {
         net::address a;
         std::string why = parse_address_value(v, a);
         if (why.empty())
             o.listen.push_back(a);
         return why;
     },
     action::serve, {}, [](options& o) { o.listen.clear(); }},
    {"--workers", "N|auto", "worker processes (default auto: CPUs in the affinity mask, capped by cgroup cpu.max)",
     [](options& o, sv v) -> std::string {
         if (v == "auto") {
             o.workers = 0;
             return {};
         }
         if (set_count(v, 1, ipc::max_slots, o.workers).empty())
             return {};
         return fmt::format("'{}' is not auto or a number from 1 to {}", v, ipc::max_slots);
     }},
    {"--accept", "reuseport|shared", "one SO_REUSEPORT socket per worker (default) or one shared socket",
     [](options& o, sv v) -> std::string {
         if (v == "reuseport")
             o.accept = accept_mode::reuseport;
         else if (v == "shared")
             o.accept = accept_mode::shared;
         else
             return fmt::format("'{}' is not reuseport or shared", v);
         return {};
     }},
    {"--defer-accept", "SECS", "accept a connection once its first bytes arrive, or after SECS (default 1; 0: at once)",
     [](options& o, sv v) -> std::string {
         if (!set_count(v, 0, 600, o.defer_accept_s).empty())
             return fmt::format("'{}' is not a number of seconds from 0 to 600", v);
         return {};
     }},
    {"--pid-file", "PATH", "write the master's pid here; removed on exit",
     [](options& o, sv v) -> std::string {
         o.pid_file = v;
         return {};
     }},
    {"--shutdown-timeout", "SECS", "graceful-stop budget before workers are killed (default 30)",
     [](options& o, sv v) { return set_seconds(v, o.shutdown_timeout_s); }},
    {"--user", "USER[:GROUP]", "workers, task runners and jobs run as USER (as root, default nobody)",
     [](options& o, sv v) -> std::string {
         if (v.empty())
             return "needs a user";
         o.user = v; // resolved once every source is applied
         return {};
     }},
};

const flag_spec control[] = {
    {"--control", "PATH", "control socket for `ringfork ctl` and `ringfork top` (mode 0600; default none)",
     [](options& o, sv v) { return set_text(v, "path", o.control_path); }},
    {"--admin", "ADDR:PORT", "admin HTTP: / (live view), /stats, /metrics, /healthz, /readyz (default off)",
     [](options& o, sv v) {
         net::address a;
         std::string why = parse_address_value(v, a);
         if (why.empty())
             o.admin.assign(1, a);
         return why;
     }},
    {"--admin-public", "", "allow --admin on a non-loopback address",
     [](options& o, sv) -> std::string {
         o.admin_public = true;
         return {};
     }},
    {"--stats-interval", "TIME", "how often workers report their counters (default 250ms)",
     [](options& o, sv v) -> std::string {
         const auto ms = parse_interval_ms(v);
         if (!ms)
             return fmt::format("'{}' is not an interval from 10ms to 60s (e.g. 250ms, 0.5, 1s)", v);
         o.worker.stats_interval_ms = *ms;
         return {};
     }},
};

const flag_spec content[] = {
    {"--demo", "", "GET /plaintext and GET /json",
     [](options& o, sv) -> std::string {
         o.worker.demo = true;
         o.content = true;
         return {};
     }},
    {"--root", "DIR", "serve the files under DIR (GET, HEAD, ranges, conditionals, .br/.gz siblings)",
     [](options& o, sv v) {
         std::string why = set_text(v, "directory", o.worker.root);
         o.content = o.content || why.empty();
         return why;
     }},
    {"--index", "NAME", "file served for a directory URL ending in / (default index.html)",
     [](options& o, sv v) -> std::string {
         if (v.empty() || v.find('/') != sv::npos || v.starts_with('.'))
             return fmt::format("'{}' is not a plain file name", v);
         o.worker.index = v;
         return {};
     }},
    {"--autoindex", "", "list directories that have no index file (default off)",
     [](options& o, sv) -> std::string {
         o.worker.autoindex = true;
         return {};
     }},
    {"--serve-dotfiles", "", "serve paths with a segment starting with '.' (default 404)",
     [](options& o, sv) -> std::string {
         o.worker.serve_dotfiles = true;
         return {};
     }},
    {"--access-log", "PATH", "combined-format access log, buffered per worker, reopened on USR1 (default off)",
     [](options& o, sv v) { return set_text(v, "path", o.worker.access_log); }},
    {"--access-log-follow-symlinks", "", "open --access-log through a symlink (default: refused)",
     [](options& o, sv) -> std::string {
         o.access_log_follow_symlinks = true;
         return {};
     }},
};

/// The --max-request-line / --max-header-bytes rule: at most 1 MiB.
std::string set_head_size(sv v, std::size_t& field)
{
    unsigned long long n = 0;
    std::string why = set_size(v, 1u << 20, n);
    if (why.empty())
        field = n;
    return why;
}

const flag_spec limits[] = {
    {"--max-connections", "N", "open connections per worker; accept pauses above it (default 10000)",
     [](options& o, sv v) { return set_count(v, 1, 1'000'000, o.worker.max_connections); }},
    {"--max-request-line", "BYTES", "longest request line, else 414 (default 8k)",
     [](options& o, sv v) { return set_head_size(v, o.worker.limits.max_request_line); }},
    {"--max-header-bytes", "BYTES", "largest request head, else 431 (default 16k)",
     [](options& o, sv v) { return set_head_size(v, o.worker.limits.max_header_bytes); }},
    {"--max-headers", "N", "most header fields, else 431 (default 64)",
     [](options& o, sv v) {
         unsigned n = 0;
         std::string why = set_count(v, 1, http::max_header_slots, n);
         if (why.empty())
             o.worker.limits.max_headers = n;
         return why;
     }},
    {"--max-body", "BYTES", "largest request body, else 413 (default 1m)",
     [](options& o, sv v) {
         unsigned long long n = 0;
         std::string why = set_size(v, ~0ull, n);
         if (why.empty() && n > (1ull << 30))
             why = fmt::format("'{}' is more than 1g (a body up to this size is held in memory; a proxied body "
                               "is streamed whatever its size)", v);
         if (why.empty())
             o.worker.limits.max_body = n;
         return why;
     }},
    {"--header-timeout", "SECS", "whole request head, from its first byte, else 408 (default 10)",
     [](options& o, sv v) { return set_seconds_ms(v, o.worker.header_timeout_ms); }},
    {"--body-timeout", "SECS", "between body bytes, else 408 (default 30)",
     [](options& o, sv v) { return set_seconds_ms(v, o.worker.body_timeout_ms); }},
    {"--idle-timeout", "SECS", "keep-alive connection without a request (default 60)",
     [](options& o, sv v) { return set_seconds_ms(v, o.worker.idle_timeout_ms); }},
    {"--send-timeout", "SECS", "a response the client does not read (default 30)",
     [](options& o, sv v) { return set_seconds_ms(v, o.worker.send_timeout_ms); }},
};

const flag_spec supervision[] = {
    {"--config", "FILE", "TOML file, keys = long flag names; re-read on HUP; flags override it",
     [](options& o, sv v) -> std::string {
         o.config_path = v; // read by load_options before the command line
         return {};
     }},
    {"-t", "", "check the command line and --config, then exit", nullptr, action::check},
    {"--rolling-batch", "N", "slots restarted at once on reload (default 1)",
     [](options& o, sv v) { return set_count(v, 1, ipc::max_slots, o.rolling_batch); }},
    {"--worker-timeout", "SECS", "heartbeat silence before a worker is aborted and replaced (default 30)",
     [](options& o, sv v) { return set_seconds(v, o.worker_timeout_s); }},
    {"--worker-start-timeout", "SECS", "a new worker not READY by then is killed and replaced (default 60)",
     [](options& o, sv v) { return set_seconds(v, o.worker_start_timeout_s); }},
    {"--upgrade-timeout", "SECS", "a new master (USR2) not ready by then is stopped, the old one serves on (default 60)",
     [](options& o, sv v) { return set_seconds(v, o.upgrade_timeout_s); }},
};

/// A size in bytes, any size from 64 up.
std::string set_bytes(sv v, std::uint64_t& field)
{
    unsigned long long bytes = 0;
    std::string why = set_size(v, ~0ull, bytes);
    if (why.empty())
        field = bytes;
    return why;
}

/// SECS for every task, or NAME=SECS for one (--task-timeout, --task-grace).
std::string set_task_seconds(options& o, std::string_view which, sv v)
{
    const auto [task, text] = split_task_value(v);
    unsigned ms = 0;
    if (!set_seconds_ms(text, ms).empty())
        return fmt::format("'{}' is not SECS or NAME=SECS (a positive number of seconds)", v);
    return set_task_limit(o.tasks, which, task, ms);
}

const flag_spec tasks[] = {
    {"--task", "NAME=COMMAND", "run COMMAND for POST /tasks/NAME (repeatable; builtin:prime, builtin:fib)",
     [](options& o, sv v) {
         std::string why;
         auto spec = parse_task_flag(v, why);
         if (spec) {
             std::erase_if(o.tasks.tasks, [&](const task_spec& t) { return t.name == spec->name; });
             o.tasks.tasks.push_back(std::move(*spec));
         }
         return why;
     }},
    {"--task-workers", "N", "task runner processes (default 2)",
     [](options& o, sv v) { return set_count(v, 1, 4096, o.tasks.runners); }},
    {"--task-queue", "N", "jobs waiting for a runner before 503 (default 64)",
     [](options& o, sv v) { return set_count(v, 1, 4096, o.tasks.queue); }},
    {"--task-queue-timeout", "SECS", "a synchronous job still queued then gets 503 (default 30)",
     [](options& o, sv v) { return set_seconds_ms(v, o.tasks.queue_timeout_ms); }},
    {"--task-timeout", "[NAME=]SECS", "from a job's start, then SIGTERM to its process group and 504 (default 30)",
     [](options& o, sv v) { return set_task_seconds(o, "timeout", v); }},
    {"--task-grace", "[NAME=]SECS", "after that SIGTERM, SIGKILL (default 1)",
     [](options& o, sv v) { return set_task_seconds(o, "grace", v); }},
    {"--task-concurrency", "[NAME=]N", "jobs of a task running at once (default 0: no limit but the runners)",
     [](options& o, sv v) -> std::string {
         const auto [task, text] = split_task_value(v);
         unsigned n = 0;
         if (!set_count(text, 0, 4096, n).empty())
             return fmt::format("'{}' is not N or NAME=N (N from 0 to 4096)", v);
         return set_task_limit(o.tasks, "concurrency", task, n);
     }},
    {"--task-max-jobs", "N", "replace a runner after about N jobs (default 0: never)",
     [](options& o, sv v) { return set_count(v, 0, 1'000'000'000, o.tasks.max_jobs); }},
    {"--task-max-rss", "MB", "replace a runner whose memory is above MB after a job (default 0: never)",
     [](options& o, sv v) {
         unsigned mb = 0;
         std::string why = set_count(v, 0, 1'000'000, mb);
         o.tasks.max_rss_kb = std::uint64_t(mb) * 1024;
         return why;
     }},
    {"--task-max-output", "BYTES", "output kept per job; beyond it the job fails (default 64m)",
     [](options& o, sv v) { return set_bytes(v, o.tasks.max_output); }},
    {"--task-spool", "DIR", "job states and outputs (default $XDG_RUNTIME_DIR/ringfork-tasks)",
     [](options& o, sv v) { return set_text(v, "directory", o.tasks.spool); }},
    {"--task-spool-max", "BYTES", "ended jobs' files beyond this go, oldest first (default 1g)",
     [](options& o, sv v) { return set_bytes(v, o.tasks.spool_max); }},
    {"--task-ttl", "SECS", "ended jobs' files kept this long (default 3600)",
     [](options& o, sv v) {
         unsigned ms = 0;
         std::string why = set_seconds_ms(v, ms);
         if (why.empty())
             o.tasks.ttl_s = std::max(1u, ms / 1000);
         return why;
     }},
};

/// NAME=SECS for the per-upstream timeout flags; the name is checked once every flag is in.
std::string set_upstream_timeout(options& o, sv v, ipc::upstream_timeout_kind kind)
{
    const std::size_t eq = v.find('=');
    ipc::upstream_timeout_setting t;
    t.kind = kind;
    if (eq == sv::npos || !ipc::valid_upstream_name(v.substr(0, eq)))
        return fmt::format("'{}' is not NAME=SECS", v);
    t.upstream = v.substr(0, eq);
    if (std::string why = set_seconds_ms(v.substr(eq + 1), t.ms); !why.empty())
        return why;
    o.worker.proxy.timeouts.push_back(std::move(t));
    return {};
}

const flag_spec proxy[] = {
    {"--upstream", "NAME=ADDR[,ADDR...]",
     "an upstream: HOST:PORT (numeric or localhost) or unix:PATH addresses, repeatable",
     [](options& o, sv v) {
         ipc::upstream_settings u;
         std::string why = ipc::parse_upstream_flag(v, u);
         if (why.empty())
             o.worker.proxy.upstreams.push_back(std::move(u));
         return why;
     }},
    {"--proxy", "PREFIX=NAME", "send PREFIX and everything under it to upstream NAME (longest prefix wins)",
     [](options& o, sv v) {
         ipc::proxy_route r;
         std::string why = ipc::parse_proxy_flag(v, r);
         if (why.empty()) {
             o.worker.proxy.routes.push_back(std::move(r));
             o.content = true;
         }
         return why;
     }},
    {"--upstream-connect-timeout", "NAME=SECS", "connecting to an address of NAME, else 504 (default 5)",
     [](options& o, sv v) { return set_upstream_timeout(o, v, ipc::upstream_timeout_kind::connect); }},
    {"--upstream-first-byte-timeout", "NAME=SECS", "from the request sent to the response's first byte, else 504 (default 60)",
     [](options& o, sv v) { return set_upstream_timeout(o, v, ipc::upstream_timeout_kind::first_byte); }},
    {"--upstream-idle-timeout", "NAME=SECS", "longest silence of NAME mid-request or mid-response (default 60)",
     [](options& o, sv v) { return set_upstream_timeout(o, v, ipc::upstream_timeout_kind::idle); }},
};

/// NAME=VALUE for the per-app flags; the name is checked once every --app is in.
std::string set_app_setting(options& o, sv v, app_setting_kind kind)
{
    const std::size_t eq = v.find('=');
    app_setting s;
    s.kind = kind;
    if (eq == sv::npos || !ipc::valid_upstream_name(v.substr(0, eq)))
        return fmt::format("'{}' is not NAME={}", v, kind == app_setting_kind::instances ? "N"
                                                     : kind == app_setting_kind::health  ? "PATH"
                                                                                         : "SECS");
    s.app = v.substr(0, eq);
    const sv value = v.substr(eq + 1);
    std::string why;
    if (kind == app_setting_kind::instances)
        why = set_count(value, 1, max_app_instances, s.number);
    else if (kind != app_setting_kind::health)
        why = set_seconds_ms(value, s.number);
    else if (valid_health_path(value))
        s.text = value;
    else
        why = fmt::format("'{}' is not a path (starts with '/', visible ASCII, at most 1 KiB)", value);
    if (why.empty())
        o.apps.per_app.push_back(std::move(s));
    return why;
}

const flag_spec apps[] = {
    {"--app", "NAME=COMMAND", "run COMMAND as upstream NAME, told its loopback port in PORT (repeatable)",
     [](options& o, sv v) { return parse_app_flag(v, o.apps); }},
    {"--app-instances", "NAME=N", "instances of app NAME (default 1, at most 16)",
     [](options& o, sv v) { return set_app_setting(o, v, app_setting_kind::instances); }},
    {"--app-health", "NAME=PATH", "an instance is ready and healthy while GET PATH answers 2xx (default: it accepts)",
     [](options& o, sv v) { return set_app_setting(o, v, app_setting_kind::health); }},
    {"--app-health-timeout", "NAME=SECS", "no passing check for this long: the instance is killed (default 10)",
     [](options& o, sv v) { return set_app_setting(o, v, app_setting_kind::health_timeout); }},
    {"--app-start-timeout", "NAME=SECS", "an instance not ready this long after its start is killed (default 60)",
     [](options& o, sv v) { return set_app_setting(o, v, app_setting_kind::start_timeout); }},
    {"--app-stop-timeout", "NAME=SECS", "from TERM to KILL of an instance's process group (default 10)",
     [](options& o, sv v) { return set_app_setting(o, v, app_setting_kind::stop_timeout); }},
};

const flag_group groups[] = {
    {"", actions},
    {"Listening and processes:", processes},
    {"Stats and control:", control},
    {"Content:", content},
    {"HTTP limits and timeouts (per worker):", limits},
    {"Reloads, upgrades, supervision:", supervision},
    {"Task pool (work that must not run in a worker):", tasks},
    {"Reverse proxy (per worker: keep-alive pools, bodies streamed both ways):", proxy},
    {"Supervised apps (their ready instances are the addresses of upstream NAME):", apps},
};

} // namespace

std::span<const flag_group> flag_groups() noexcept
{
    return groups;
}

const flag_spec* find_flag(std::string_view name) noexcept
{
    for (const flag_group& g : groups)
        for (const flag_spec& f : g.flags)
            if (f.name == name || (!f.alias.empty() && f.alias == name))
                return &f;
    return nullptr;
}

} // namespace ringfork::master
