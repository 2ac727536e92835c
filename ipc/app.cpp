// ringfork::app: the registrations (run() is the master's, in master/run.cpp).
#include <stdexcept>

#include <fmt/format.h>

#include "ipc/app_spec.hpp"
#include "ipc/task_protocol.hpp"

namespace ringfork {

namespace {

void check_task_name(const detail::app_spec& s, std::string_view name)
{
    if (!ipc::valid_task_name(name))
        throw std::invalid_argument(fmt::format("task name '{}': want 1 to 64 of [A-Za-z0-9_-]", name));
    for (const auto& t : s.function_tasks)
        if (t.name == name)
            throw std::invalid_argument(fmt::format("task '{}' is registered already", name));
    for (const auto& t : s.command_tasks)
        if (t.name == name)
            throw std::invalid_argument(fmt::format("task '{}' is registered already", name));
}

} // namespace

app::app() : spec_(std::make_unique<detail::app_spec>()) {}
app::~app() = default;

app& app::route(std::string_view method, std::string_view pattern, handler h)
{
    const http::method m = http::method_named(method);
    if (m == http::method::other || m == http::method::connect)
        throw std::invalid_argument(fmt::format("route '{}': unknown method '{}'", pattern, method));
    if (!h)
        throw std::invalid_argument(fmt::format("route {} '{}': empty handler", method, pattern));
    const http::method_mask mask = http::bit(m);
    if (std::string refused = spec_->check.add(pattern, mask, 0); !refused.empty())
        throw std::invalid_argument(refused);
    spec_->routes.push_back({mask, std::string(pattern), std::move(h)});
    return *this;
}

app& app::get(std::string_view pattern, handler h) { return route("GET", pattern, std::move(h)); }
app& app::post(std::string_view pattern, handler h) { return route("POST", pattern, std::move(h)); }
app& app::put(std::string_view pattern, handler h) { return route("PUT", pattern, std::move(h)); }
app& app::patch(std::string_view pattern, handler h) { return route("PATCH", pattern, std::move(h)); }
app& app::del(std::string_view pattern, handler h) { return route("DELETE", pattern, std::move(h)); }

file_root app::files_root(std::string dir, file_options options)
{
    if (dir.empty())
        throw std::invalid_argument("file root: empty directory name");
    spec_->roots.push_back({std::move(dir), std::move(options)});
    return file_root(spec_->roots.size() - 1);
}

app& app::files(std::string_view prefix, std::string dir, file_options options)
{
    if (!prefix.ends_with('/'))
        throw std::invalid_argument(fmt::format("files '{}': a prefix ends with '/'", prefix));
    const file_root root = files_root(std::move(dir), std::move(options));
    if (std::string refused = spec_->check.add(fmt::format("{}{{*path}}", prefix), http::get_head, 0); !refused.empty())
        throw std::invalid_argument(refused);
    spec_->mounts.push_back({std::string(prefix), root.index()});
    return *this;
}

app& app::task(std::string name, task_function fn, task_options options)
{
    check_task_name(*spec_, name);
    if (!fn)
        throw std::invalid_argument(fmt::format("task '{}': empty function", name));
    spec_->function_tasks.push_back({std::move(name), std::move(fn), options});
    return *this;
}

app& app::command_task(std::string name, std::vector<std::string> argv, task_options options)
{
    check_task_name(*spec_, name);
    if (argv.empty() || argv.front().empty())
        throw std::invalid_argument(fmt::format("task '{}': empty command", name));
    spec_->command_tasks.push_back({std::move(name), std::move(argv), options});
    return *this;
}

app& app::on_starting(std::function<void()> fn) { spec_->on_starting.push_back(std::move(fn)); return *this; }
app& app::on_ready(std::function<void()> fn) { spec_->on_ready.push_back(std::move(fn)); return *this; }
app& app::on_reload(std::function<void()> fn) { spec_->on_reload.push_back(std::move(fn)); return *this; }
app& app::on_exit(std::function<void()> fn) { spec_->on_exit.push_back(std::move(fn)); return *this; }
app& app::on_worker_exit(std::function<void(const worker_exit&)> fn)
{
    spec_->on_worker_exit.push_back(std::move(fn));
    return *this;
}
app& app::on_worker_start(std::function<void(worker_start&)> fn)
{
    spec_->on_worker_start.push_back(std::move(fn));
    return *this;
}
app& app::on_drain(std::function<void()> fn) { spec_->on_drain.push_back(std::move(fn)); return *this; }
app& app::on_runner_start(std::function<void()> fn) { spec_->on_runner_start.push_back(std::move(fn)); return *this; }

response response::text(int status, std::string body)
{
    return {status, {{"Content-Type", "text/plain; charset=utf-8"}}, std::move(body)};
}

response response::json(int status, std::string body)
{
    return {status, {{"Content-Type", "application/json"}}, std::move(body)};
}

response& response::set(std::string name, std::string value)
{
    headers.push_back({std::move(name), std::move(value)});
    return *this;
}

} // namespace ringfork
