// The --app flags.
#include "master/apps/app_settings.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "master/tasks/task_settings.hpp"

namespace ringfork::master {

namespace {

const char* flag_of(app_setting_kind k) noexcept
{
    switch (k) {
    case app_setting_kind::instances: return "--app-instances";
    case app_setting_kind::health: return "--app-health";
    case app_setting_kind::health_timeout: return "--app-health-timeout";
    case app_setting_kind::start_timeout: return "--app-start-timeout";
    case app_setting_kind::stop_timeout: return "--app-stop-timeout";
    }
    return "--app-*";
}

void apply(const app_setting& s, app_spec& a)
{
    switch (s.kind) {
    case app_setting_kind::instances: a.instances = s.number; break;
    case app_setting_kind::health: a.health_path = s.text; break;
    case app_setting_kind::health_timeout: a.health_timeout_ms = s.number; break;
    case app_setting_kind::start_timeout: a.start_timeout_ms = s.number; break;
    case app_setting_kind::stop_timeout: a.stop_timeout_ms = s.number; break;
    }
}

} // namespace

const app_spec* app_settings::find(std::string_view name) const noexcept
{
    const auto it = std::find_if(apps.begin(), apps.end(), [&](const app_spec& a) { return a.name == name; });
    return it == apps.end() ? nullptr : &*it;
}

bool valid_health_path(std::string_view path) noexcept
{
    if (path.empty() || path.front() != '/' || path.size() > 1024)
        return false;
    return std::all_of(path.begin(), path.end(), [](char c) { return c > 0x20 && c < 0x7f && c != '#'; });
}

std::string parse_app_flag(std::string_view value, app_settings& out)
{
    const std::size_t eq = value.find('=');
    if (eq == std::string_view::npos)
        return fmt::format("'{}' is not NAME=COMMAND", value);
    app_spec a;
    a.name = value.substr(0, eq);
    if (!ipc::valid_upstream_name(a.name))
        return fmt::format("'{}' is not a name (1 to {} letters, digits, '-', '_')", a.name, ipc::upstream_name_max);
    std::string why;
    auto words = split_command(value.substr(eq + 1), why);
    if (!words)
        return fmt::format("{}: {}", a.name, why);
    if (words->empty())
        return fmt::format("{}: empty command", a.name);
    a.argv = std::move(*words);
    std::erase_if(out.apps, [&](const app_spec& b) { return b.name == a.name; });
    out.apps.push_back(std::move(a));
    return {};
}

std::string resolve_apps(app_settings& a, ipc::proxy_settings& proxy)
{
    for (const app_setting& s : a.per_app) {
        auto it = std::find_if(a.apps.begin(), a.apps.end(), [&](const app_spec& x) { return x.name == s.app; });
        if (it == a.apps.end())
            return fmt::format("{} {}: no --app named '{}'", flag_of(s.kind), s.app, s.app);
        apply(s, *it);
    }
    a.per_app.clear();
    for (const app_spec& app : a.apps) {
        if (proxy.find(app.name) >= 0)
            return fmt::format("--app {}: an --upstream is named '{}' too; an app's addresses are its instances",
                               app.name, app.name);
        ipc::upstream_settings u;
        u.name = app.name;
        proxy.upstreams.push_back(std::move(u));
    }
    return {};
}

} // namespace ringfork::master
