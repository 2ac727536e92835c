// Command-line options.
#include "master/config/options.hpp"

#include "master/config/config_file.hpp"
#include "ipc/app_spec.hpp"
#include "net/route_table.hpp"
#include "master/config/flag_table.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <iterator>

#include <fmt/format.h>

namespace ringfork::master {

namespace {

/// A usage line: "  --flag VALUE" padded to the help column, then the help.
void append_usage_line(std::string& out, const flag_spec& f)
{
    const std::string left = f.value.empty() ? std::string(f.name) : fmt::format("{} {}", f.name, f.value);
    fmt::format_to(std::back_inserter(out), "  {:<25} {}\n", left, f.help);
}

} // namespace

std::string usage()
{
    std::string out = R"(usage: ringfork [options]
       ringfork --version | --help

With no content option, ringfork serves its embedded default: the demo routes
and a welcome page at /, on 127.0.0.1:8080, one worker per usable CPU.
)";
    for (const flag_group& g : flag_groups()) {
        if (g.title.empty())
            continue;
        fmt::format_to(std::back_inserter(out), "\n{}\n", g.title);
        for (const flag_spec& f : g.flags)
            append_usage_line(out, f);
    }
    out += R"(
Signals: TERM/QUIT graceful stop, INT fast stop, HUP reload, USR2 binary upgrade,
TTIN/TTOU one worker more/fewer, USR1 reopen logs.

Clients (talk to a running server through its --control socket):
  ringfork ctl [--control PATH] [--json] stats|workers|apps|metrics|reload|upgrade|scale N|stop
  ringfork top [--control PATH] [--interval SECS]
)";
    return out;
}

namespace {

/// Where a list of arguments comes from: the command line applied over a config file
/// replaces the file's lists (flag_spec::replace) instead of extending them.
enum class source { only, over_file };

/// Applies one source of arguments to `out`, without defaults.
parse_outcome apply_arguments(std::span<const char* const> args, options& out, source from = source::only)
{
    bool checking = false;
    std::vector<const flag_spec*> replaced;
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        std::string_view value;
        bool has_value = false;
        if (auto eq = arg.find('='); arg.starts_with("--") && eq != std::string_view::npos) {
            value = arg.substr(eq + 1);
            arg = arg.substr(0, eq);
            has_value = true;
        }
        auto bad = [&](std::string_view why) {
            return parse_outcome{action::serve, fmt::format("{}: {}", arg, why)};
        };
        const flag_spec* f = find_flag(arg);
        if (!f)
            return bad("unknown option (see --help)");
        if (f->asks == action::help || f->asks == action::version)
            return {f->asks, {}};
        checking = checking || f->asks == action::check;
        if (!f->value.empty() && !has_value) {
            if (i + 1 >= args.size())
                return bad("needs a value");
            value = args[++i];
        }
        if (f->replace && from == source::over_file &&
            std::find(replaced.begin(), replaced.end(), f) == replaced.end()) {
            f->replace(out);
            replaced.push_back(f);
        }
        if (f->set)
            if (const std::string why = f->set(out, f->value.empty() ? std::string_view() : value); !why.empty())
                return bad(why);
    }
    return {checking ? action::check : action::serve, {}};
}

/// The app's routes and the built-in ones (demo, welcome page, task routes, --root) in one
/// table: "" or the first pattern two of them claim for the same method.
std::string check_routes(const options& o)
{
    if (!o.app)
        return {};
    http::route_table table;
    std::string clash;
    const auto add = [&](std::string_view pattern, http::method_mask methods) {
        if (std::string refused = table.add(pattern, methods, 0); !refused.empty() && clash.empty())
            clash = fmt::format("the application's routes and ringfork's own collide: {}", refused);
    };
    for (const auto& r : o.app->routes)
        add(r.pattern, r.methods);
    for (const auto& m : o.app->mounts)
        add(fmt::format("{}{{*path}}", m.prefix), http::get_head);
    if (o.worker.demo) {
        add("/plaintext", http::get_head);
        add("/json", http::get_head);
    }
    if (o.worker.welcome)
        add("/", http::get_head);
    if (!o.worker.root.empty())
        add("/{*path}", http::get_head);
    if (!o.tasks.tasks.empty()) {
        add("/tasks/jobs/{*rest}", http::get_head);
        add("/tasks/{*rest}", http::bit(http::method::post));
        if (o.worker.demo) {
            add("/prime", http::get_head);
            add("/fib", http::get_head);
        }
    }
    // A --proxy prefix claims its path and everything under it for every method it proxies.
    for (const ipc::proxy_route& r : o.worker.proxy.routes)
        for (const std::string& pattern : ipc::proxy_patterns(r.prefix))
            if (std::string refused = table.add(pattern, ipc::proxied_methods, 0); !refused.empty() && clash.empty())
                clash = fmt::format("--proxy {}={} collides with another route: {}", r.prefix, r.upstream, refused);
    return clash;
}

/// Defaults and cross-option rules, once every source has been applied.
parse_outcome finish(options& out, action what)
{
    if (out.listen.empty())
        out.listen.push_back(*net::parse_address("127.0.0.1:8080"));
    const bool app_content = out.app && (!out.app->routes.empty() || !out.app->mounts.empty());
    if (!out.content && !app_content) {
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
    if (out.app)
        add_app_tasks(out.tasks, *out.app);
    std::string why;
    auto who = resolve_run_as(out.user, ::geteuid(), ::getegid(), why);
    if (!who)
        return {action::serve, fmt::format("--user: {}", why)};
    out.run_as = std::move(*who);
    if (out.tasks.spool.empty())
        out.tasks.spool = default_spool_dir(::geteuid(), out.run_as.switch_user ? out.run_as.uid : ::geteuid(),
                                            std::getenv("XDG_RUNTIME_DIR"));
    if (std::string error; !check_task_settings(out.tasks, error))
        return {action::serve, error};
    // The spool belongs to whoever runs the jobs and reads their files: the children's user.
    out.tasks.owner = out.run_as.switch_user ? ipc::spool_owner{out.run_as.uid, out.run_as.gid}
                                             : ipc::spool_owner{::geteuid(), ::getegid()};
    if (std::string why_apps = resolve_apps(out.apps, out.worker.proxy); !why_apps.empty())
        return {action::serve, why_apps};
    if (std::string proxy_error = ipc::resolve_proxy(out.worker.proxy, !out.worker.root.empty()); !proxy_error.empty())
        return {action::serve, proxy_error};
    out.worker.task_spool = out.tasks.spool;
    // The master answers every synchronous job before this; the worker's own deadline is a backstop.
    out.worker.task_timeout_ms = worker_task_wait_ms(out.tasks);
    if (std::string clash = check_routes(out); !clash.empty())
        return {action::serve, clash};
    return {what, {}};
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
    r = apply_arguments(args, out, source::over_file);
    if (!r.error.empty())
        return r;
    return finish(out, r.what);
}

} // namespace ringfork::master
