// Command-line options.
#include "master/config/options.hpp"

#include "master/config/config_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <optional>

#include <fmt/format.h>

namespace ringfork::master {

namespace {

std::optional<unsigned long long> parse_uint(std::string_view v)
{
    unsigned long long n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size())
        return std::nullopt;
    return n;
}

/// Seconds with an optional fraction ("2.5"), to whole milliseconds.
std::optional<unsigned> parse_seconds_ms(std::string_view v)
{
    double s = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || !(s > 0) || s > 86400)
        return std::nullopt;
    return static_cast<unsigned>(std::lround(s * 1000));
}

/// An interval: "250ms", or seconds as "0.25" / "0.25s"; 10 ms to 60 s.
std::optional<unsigned> parse_interval_ms(std::string_view v)
{
    std::optional<unsigned> ms;
    if (v.ends_with("ms")) {
        auto n = parse_uint(v.substr(0, v.size() - 2));
        if (n && *n <= 60'000)
            ms = static_cast<unsigned>(*n);
    } else {
        ms = parse_seconds_ms(v.ends_with("s") ? v.substr(0, v.size() - 1) : v);
    }
    if (!ms || *ms < 10 || *ms > 60'000)
        return std::nullopt;
    return ms;
}

/// Sizes in bytes with an optional k/m/g suffix (powers of 1024).
std::optional<unsigned long long> parse_size(std::string_view v)
{
    unsigned long long mult = 1;
    if (!v.empty()) {
        switch (v.back()) {
        case 'k': case 'K': mult = 1ull << 10; break;
        case 'm': case 'M': mult = 1ull << 20; break;
        case 'g': case 'G': mult = 1ull << 30; break;
        default: break;
        }
        if (mult != 1)
            v.remove_suffix(1);
    }
    auto n = parse_uint(v);
    if (!n || *n > (~0ull) / mult)
        return std::nullopt;
    return *n * mult;
}

} // namespace

std::string usage()
{
    return R"(usage: ringfork [options]
       ringfork --version | --help

With no content option, ringfork serves its embedded default: the demo routes
and a welcome page at /, on 127.0.0.1:8080, one worker per usable CPU.

Listening and processes:
  --listen ADDR:PORT        listen address, repeatable; IPv4, [IPv6], *:PORT (default 127.0.0.1:8080)
  --workers N|auto          worker processes (default auto: CPUs in the affinity mask, capped by cgroup cpu.max)
  --accept reuseport|shared one SO_REUSEPORT socket per worker (default) or one shared socket
  --defer-accept SECS       accept a connection once its first bytes arrive, or after SECS (default 1; 0: at once)
  --pid-file PATH           write the master's pid here; removed on exit
  --shutdown-timeout SECS   graceful-stop budget before workers are killed (default 30)

Stats and control:
  --control PATH            control socket for `ringfork ctl` and `ringfork top` (mode 0600; default none)
  --admin ADDR:PORT         admin HTTP: / (live view), /stats, /metrics, /healthz, /readyz (default off)
  --admin-public            allow --admin on a non-loopback address
  --stats-interval TIME     how often workers report their counters (default 250ms)

Content:
  --demo                    GET /plaintext and GET /json
  --root DIR                serve the files under DIR (GET, HEAD, ranges, conditionals, .br/.gz siblings)
  --index NAME              file served for a directory URL ending in / (default index.html)
  --autoindex               list directories that have no index file (default off)
  --serve-dotfiles          serve paths with a segment starting with '.' (default 404)
  --access-log PATH         combined-format access log, buffered per worker, reopened on USR1 (default off)

HTTP limits and timeouts (per worker):
  --max-connections N       open connections per worker; accept pauses above it (default 10000)
  --max-request-line BYTES  longest request line, else 414 (default 8k)
  --max-header-bytes BYTES  largest request head, else 431 (default 16k)
  --max-headers N           most header fields, else 431 (default 64)
  --max-body BYTES          largest request body, else 413 (default 1m)
  --header-timeout SECS     whole request head, from its first byte, else 408 (default 10)
  --body-timeout SECS       between body bytes, else 408 (default 30)
  --idle-timeout SECS       keep-alive connection without a request (default 60)
  --send-timeout SECS       a response the client does not read (default 30)

Reloads, upgrades, supervision:
  --config FILE             TOML file, keys = long flag names; re-read on HUP; flags override it
  -t                        check the command line and --config, then exit
  --rolling-batch N         slots restarted at once on reload (default 1)
  --worker-timeout SECS     heartbeat silence before a worker is aborted and replaced (default 30)

Task pool (work that must not run in a worker):
  --task NAME=COMMAND       run COMMAND for POST /tasks/NAME (repeatable; builtin:prime, builtin:fib)
  --task-workers N          task runner processes (default 2)
  --task-queue N            jobs waiting for a runner before 503 (default 64)
  --task-timeout SECS       job deadline, then its process group is killed and 504 (default 30)
  --task-spool DIR          job outputs and results (default $XDG_RUNTIME_DIR/ringfork-tasks)
  --task-ttl SECS           spool files kept this long (default 3600)

Signals: TERM/QUIT graceful stop, INT fast stop, HUP reload, USR2 binary upgrade,
TTIN/TTOU one worker more/fewer, USR1 reopen logs.

Clients (talk to a running server through its --control socket):
  ringfork ctl [--control PATH] [--json] stats|workers|metrics|reload|upgrade|scale N|stop
  ringfork top [--control PATH] [--interval SECS]
)";
}

namespace {

/// Applies one source of arguments to `out`, without defaults.
parse_outcome apply_arguments(std::span<const char* const> args, options& out)
{
    bool& content = out.content;
    std::optional<unsigned long long> n;
    std::optional<unsigned> ms;
    bool checking = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        std::string_view value;
        bool has_value = false;
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_value = true;
        }
        auto take = [&]() -> std::optional<std::string_view> {
            if (has_value)
                return value;
            if (i + 1 < args.size())
                return std::string_view(args[++i]);
            return std::nullopt;
        };
        auto bad = [&](std::string_view why) {
            return parse_outcome{action::serve, fmt::format("{}: {}", arg, why)};
        };
        if (arg == "--help" || arg == "-h")
            return {action::help, {}};
        if (arg == "-t") {
            checking = true;
            continue;
        }
        if (arg == "--version")
            return {action::version, {}};
        if (arg == "--admin-public") {
            out.admin_public = true;
            continue;
        }
        if (arg == "--serve-dotfiles" || arg == "--autoindex") {
            (arg == "--autoindex" ? out.worker.autoindex : out.worker.serve_dotfiles) = true;
            continue;
        }
        if (arg == "--demo") {
            out.worker.demo = true;
            content = true;
            continue;
        }
        static const std::vector<std::string_view> takes_value = {
            "--listen", "--workers", "--accept", "--defer-accept", "--pid-file", "--shutdown-timeout", "--max-connections",
            "--max-request-line", "--max-header-bytes", "--max-headers", "--max-body", "--header-timeout",
            "--body-timeout", "--idle-timeout", "--send-timeout", "--control", "--admin", "--stats-interval", "--root", "--index", "--access-log", "--config", "--rolling-batch",
            "--worker-timeout", "--task", "--task-workers", "--task-queue", "--task-timeout", "--task-spool",
            "--task-ttl"};
        if (std::find(takes_value.begin(), takes_value.end(), arg) == takes_value.end())
            return bad("unknown option (see --help)");
        auto v = take();
        if (!v)
            return bad("needs a value");
        if (arg == "--listen") {
            auto a = net::parse_address(*v);
            if (!a)
                return bad(fmt::format("'{}' is not ADDR:PORT (IPv4, [IPv6] or *:PORT)", *v));
            out.listen.push_back(*a);
        } else if (arg == "--workers") {
            if (*v == "auto")
                out.workers = 0;
            else if ((n = parse_uint(*v)) && *n >= 1 && *n <= ipc::max_slots)
                out.workers = static_cast<unsigned>(*n);
            else
                return bad(fmt::format("'{}' is not auto or a number from 1 to {}", *v, ipc::max_slots));
        } else if (arg == "--accept") {
            if (*v == "reuseport")
                out.accept = accept_mode::reuseport;
            else if (*v == "shared")
                out.accept = accept_mode::shared;
            else
                return bad(fmt::format("'{}' is not reuseport or shared", *v));
        } else if (arg == "--defer-accept") {
            if (!(n = parse_uint(*v)) || *n > 600)
                return bad(fmt::format("'{}' is not a number of seconds from 0 to 600", *v));
            out.defer_accept_s = static_cast<unsigned>(*n);
        } else if (arg == "--root") {
            if (v->empty())
                return bad("needs a directory");
            out.worker.root = *v;
            content = true;
        } else if (arg == "--access-log") {
            if (v->empty())
                return bad("needs a path");
            out.worker.access_log = *v;
        } else if (arg == "--index") {
            if (v->empty() || v->find('/') != std::string_view::npos || v->starts_with('.'))
                return bad(fmt::format("'{}' is not a plain file name", *v));
            out.worker.index = *v;
        } else if (arg == "--config") {
            out.config_path = *v; // read by load_options before the command line
        } else if (arg == "--rolling-batch") {
            if (!(n = parse_uint(*v)) || *n < 1 || *n > ipc::max_slots)
                return bad(fmt::format("'{}' is not a number from 1 to {}", *v, ipc::max_slots));
            out.rolling_batch = static_cast<unsigned>(*n);
        } else if (arg == "--worker-timeout") {
            if (!(ms = parse_seconds_ms(*v)))
                return bad(fmt::format("'{}' is not a positive number of seconds", *v));
            out.worker_timeout_s = *ms / 1000.0;
        } else if (arg == "--task") {
            std::string error;
            auto spec = parse_task_flag(*v, error);
            if (!spec)
                return bad(error);
            std::erase_if(out.tasks.tasks, [&](const task_spec& t) { return t.name == spec->name; });
            out.tasks.tasks.push_back(std::move(*spec));
        } else if (arg == "--task-workers" || arg == "--task-queue") {
            if (!(n = parse_uint(*v)) || *n < 1 || *n > 4096)
                return bad(fmt::format("'{}' is not a number from 1 to 4096", *v));
            (arg == "--task-workers" ? out.tasks.runners : out.tasks.queue) = static_cast<unsigned>(*n);
        } else if (arg == "--task-timeout" || arg == "--task-ttl") {
            if (!(ms = parse_seconds_ms(*v)))
                return bad(fmt::format("'{}' is not a positive number of seconds", *v));
            if (arg == "--task-timeout")
                out.tasks.timeout_ms = *ms;
            else
                out.tasks.ttl_s = std::max(1u, *ms / 1000);
        } else if (arg == "--task-spool") {
            if (v->empty())
                return bad("needs a directory");
            out.tasks.spool = *v;
        } else if (arg == "--control") {
            if (v->empty())
                return bad("needs a path");
            out.control_path = *v;
        } else if (arg == "--admin") {
            auto a = net::parse_address(*v);
            if (!a)
                return bad(fmt::format("'{}' is not ADDR:PORT (IPv4, [IPv6] or *:PORT)", *v));
            out.admin.assign(1, *a);
        } else if (arg == "--stats-interval") {
            if (!(ms = parse_interval_ms(*v)))
                return bad(fmt::format("'{}' is not an interval from 10ms to 60s (e.g. 250ms, 0.5, 1s)", *v));
            out.worker.stats_interval_ms = *ms;
        } else if (arg == "--pid-file") {
            out.pid_file = *v;
        } else if (arg == "--shutdown-timeout") {
            if (!(ms = parse_seconds_ms(*v)))
                return bad(fmt::format("'{}' is not a positive number of seconds", *v));
            out.shutdown_timeout_s = *ms / 1000.0;
        } else if (arg == "--max-connections") {
            if (!(n = parse_uint(*v)) || *n < 1 || *n > 1'000'000)
                return bad(fmt::format("'{}' is not a number from 1 to 1000000", *v));
            out.worker.max_connections = static_cast<unsigned>(*n);
        } else if (arg == "--max-headers") {
            if (!(n = parse_uint(*v)) || *n < 1 || *n > http::max_header_slots)
                return bad(fmt::format("'{}' is not a number from 1 to {}", *v, http::max_header_slots));
            out.worker.limits.max_headers = *n;
        } else if (arg == "--max-request-line" || arg == "--max-header-bytes" || arg == "--max-body") {
            if (!(n = parse_size(*v)) || *n < 64 || (arg != "--max-body" && *n > (1u << 20)))
                return bad(fmt::format("'{}' is not a size in bytes (k/m/g suffixes allowed, at least 64)", *v));
            if (arg == "--max-request-line")
                out.worker.limits.max_request_line = *n;
            else if (arg == "--max-header-bytes")
                out.worker.limits.max_header_bytes = *n;
            else
                out.worker.limits.max_body = *n;
        } else {
            if (!(ms = parse_seconds_ms(*v)))
                return bad(fmt::format("'{}' is not a positive number of seconds", *v));
            if (arg == "--header-timeout")
                out.worker.header_timeout_ms = *ms;
            else if (arg == "--body-timeout")
                out.worker.body_timeout_ms = *ms;
            else if (arg == "--idle-timeout")
                out.worker.idle_timeout_ms = *ms;
            else
                out.worker.send_timeout_ms = *ms;
        }
    }
    return {checking ? action::check : action::serve, {}};
}

/// Defaults and cross-option rules, once every source has been applied.
parse_outcome finish(options& out, action what)
{
    if (out.listen.empty())
        out.listen.push_back(*net::parse_address("127.0.0.1:8080"));
    if (!out.content) {
        out.worker.demo = true;
        out.worker.welcome = true;
    }
    out.worker.shared_accept = out.accept == accept_mode::shared;
    // The deferral plus a second for the SYN-ACK retransmission that ends it.
    out.worker.retire_accept_ms = out.defer_accept_s ? (out.defer_accept_s + 1) * 1000 : 0;
    if (!out.admin.empty() && !out.admin[0].is_loopback() && !out.admin_public)
        return {action::serve, fmt::format("--admin: '{}' is not a loopback address; the admin listener shows "
                                           "internals, add --admin-public to serve it there anyway",
                                           out.admin[0].to_string())};
    if (out.worker.demo) {
        // The demo's CPU-heavy routes run in the pool, never in a worker.
        for (const char* name : {"prime", "fib"})
            if (std::none_of(out.tasks.tasks.begin(), out.tasks.tasks.end(),
                             [&](const task_spec& t) { return t.name == name; }))
                out.tasks.tasks.push_back({name, {}, name});
    }
    if (out.tasks.spool.empty()) {
        const char* runtime = std::getenv("XDG_RUNTIME_DIR");
        out.tasks.spool = runtime && *runtime ? fmt::format("{}/ringfork-tasks", runtime)
                                              : fmt::format("/tmp/ringfork-tasks-{}", getuid());
    }
    out.worker.task_spool = out.tasks.spool;
    out.worker.task_timeout_ms = out.tasks.timeout_ms;
    return {what, {}};
}

bool names_listen(std::span<const char* const> args)
{
    return std::any_of(args.begin(), args.end(), [](const char* a) {
        const std::string_view s(a);
        return s == "--listen" || s.starts_with("--listen=");
    });
}

} // namespace

parse_outcome parse_options(std::span<const char* const> args, options& out)
{
    parse_outcome r = apply_arguments(args, out);
    if (!r.error.empty() || r.what == action::help || r.what == action::version)
        return r;
    return finish(out, r.what);
}

parse_outcome load_options(std::span<const char* const> args, options& out)
{
    // Find --config first, then apply the file, then the command line over it.
    options first;
    parse_outcome r = apply_arguments(args, first);
    if (!r.error.empty() || r.what == action::help || r.what == action::version)
        return r;
    if (first.config_path.empty())
        return parse_options(args, out);
    std::string error;
    auto file = config_arguments(first.config_path, error);
    if (!file)
        return {action::serve, error};
    std::vector<const char*> file_args;
    for (const auto& a : *file)
        file_args.push_back(a.c_str());
    parse_outcome from_file = apply_arguments(file_args, out);
    if (!from_file.error.empty())
        return {action::serve, fmt::format("config {}: {}", first.config_path, from_file.error)};
    if (names_listen(args))
        out.listen.clear();
    r = apply_arguments(args, out);
    if (!r.error.empty())
        return r;
    return finish(out, r.what);
}

} // namespace ringfork::master
