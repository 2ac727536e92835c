// The task pool's configuration.
#include "master/tasks/task_settings.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "ipc/app_spec.hpp"
#include "ipc/task_protocol.hpp"
#include "master/tasks/registry.hpp"

namespace ringfork::master {

std::optional<std::vector<std::string>> split_command(std::string_view text, std::string& error)
{
    std::vector<std::string> words;
    std::string word;
    bool in_word = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == ' ' || c == '\t') {
            if (in_word)
                words.push_back(std::exchange(word, {}));
            in_word = false;
        } else if (c == '\'' || c == '"') {
            const auto close = text.find(c, i + 1);
            if (close == std::string_view::npos) {
                error = fmt::format("unterminated {} quote", c);
                return std::nullopt;
            }
            word.append(text.substr(i + 1, close - i - 1));
            in_word = true;
            i = close;
        } else {
            word += c;
            in_word = true;
        }
    }
    if (in_word)
        words.push_back(std::move(word));
    return words;
}

std::optional<task_spec> parse_task_flag(std::string_view text, std::string& error)
{
    const auto eq = text.find('=');
    if (eq == std::string_view::npos) {
        error = fmt::format("task '{}': expected NAME=COMMAND", text);
        return std::nullopt;
    }
    task_spec spec;
    spec.name = text.substr(0, eq);
    if (!ipc::valid_task_name(spec.name)) {
        error = fmt::format("task name '{}': want 1 to {} of [A-Za-z0-9_-]", spec.name, ipc::task_name_max);
        return std::nullopt;
    }
    std::string split_error;
    auto words = split_command(text.substr(eq + 1), split_error);
    if (!words) {
        error = fmt::format("task {}: {}", spec.name, split_error);
        return std::nullopt;
    }
    if (words->empty()) {
        error = fmt::format("task {}: empty command", spec.name);
        return std::nullopt;
    }
    if (std::string_view first = words->front(); first.starts_with("builtin:")) {
        first.remove_prefix(8);
        if (!find_task_function(first) || words->size() != 1) {
            error = fmt::format("task {}: unknown builtin '{}' (known: {}; no arguments)", spec.name, words->front(),
                                task_function_names());
            return std::nullopt;
        }
        spec.function = first;
        return spec;
    }
    spec.argv = std::move(*words);
    return spec;
}

std::pair<std::string_view, std::string_view> split_task_value(std::string_view text) noexcept
{
    const auto eq = text.find('=');
    if (eq == std::string_view::npos)
        return {{}, text};
    return {text.substr(0, eq), text.substr(eq + 1)};
}

task_override& override_for(task_pool_settings& s, std::string_view name)
{
    for (task_override& o : s.overrides)
        if (o.name == name)
            return o;
    s.overrides.push_back({std::string(name), {}, {}, {}});
    return s.overrides.back();
}

std::string set_task_limit(task_pool_settings& s, std::string_view which, std::string_view name, unsigned value)
{
    if (name.empty()) {
        (which == "timeout" ? s.defaults.timeout_ms : which == "grace" ? s.defaults.grace_ms : s.defaults.concurrency) =
            value;
        return {};
    }
    if (!ipc::valid_task_name(name))
        return fmt::format("'{}' is not a task name", name);
    task_override& o = override_for(s, name);
    (which == "timeout" ? o.timeout_ms : which == "grace" ? o.grace_ms : o.concurrency) = value;
    return {};
}

task_limits limits_for(const task_pool_settings& s, std::string_view name) noexcept
{
    task_limits l = s.defaults;
    for (const task_override& o : s.overrides) {
        if (o.name != name)
            continue;
        l.timeout_ms = o.timeout_ms.value_or(l.timeout_ms);
        l.grace_ms = o.grace_ms.value_or(l.grace_ms);
        l.concurrency = o.concurrency.value_or(l.concurrency);
    }
    return l;
}

void add_app_tasks(task_pool_settings& s, const detail::app_spec& app)
{
    s.app = &app;
    const auto add = [&](const std::string& name, task_spec spec, const ringfork::task_options& o) {
        if (std::any_of(s.tasks.begin(), s.tasks.end(), [&](const task_spec& t) { return t.name == name; }))
            return; // a --task of the same name replaces it
        s.tasks.push_back(std::move(spec));
        // The application's options are the task's own; a flag for the same task wins.
        task_override& over = override_for(s, name);
        if (o.timeout.count() > 0 && !over.timeout_ms)
            over.timeout_ms = static_cast<unsigned>(o.timeout.count());
        if (o.grace.count() > 0 && !over.grace_ms)
            over.grace_ms = static_cast<unsigned>(o.grace.count());
        if (o.concurrency > 0 && !over.concurrency)
            over.concurrency = o.concurrency;
    };
    for (const auto& f : app.function_tasks)
        add(f.name, {f.name, {}, {}, true}, f.options);
    for (const auto& c : app.command_tasks)
        add(c.name, {c.name, c.argv, {}, false}, c.options);
}

bool check_task_settings(const task_pool_settings& s, std::string& error)
{
    for (const task_override& o : s.overrides) {
        if (!ipc::valid_task_name(o.name)) {
            error = fmt::format("per-task setting for '{}': not a task name", o.name);
            return false;
        }
        if (std::none_of(s.tasks.begin(), s.tasks.end(), [&](const task_spec& t) { return t.name == o.name; })) {
            error = fmt::format("per-task setting for '{}': no --task {}=... is configured", o.name, o.name);
            return false;
        }
    }
    return true;
}

std::string default_spool_dir(uid_t euid, uid_t owner, const char* runtime_dir)
{
    if (runtime_dir != nullptr && *runtime_dir == '/')
        return fmt::format("{}/ringfork-tasks", runtime_dir);
    if (euid == 0) // only root can create anything in /run; one spool per children's user
        return owner == 0 ? std::string("/run/ringfork-tasks") : fmt::format("/run/ringfork-tasks-{}", owner);
    return fmt::format("/tmp/ringfork-tasks-{}", euid);
}

unsigned worker_task_wait_ms(const task_pool_settings& s) noexcept
{
    std::uint64_t longest = s.defaults.timeout_ms + std::uint64_t(s.defaults.grace_ms);
    for (const task_override& o : s.overrides)
        longest = std::max<std::uint64_t>(longest, std::uint64_t(o.timeout_ms.value_or(s.defaults.timeout_ms)) +
                                                       o.grace_ms.value_or(s.defaults.grace_ms));
    // Beyond the longest life, the master's own bound on a runner that stops answering.
    const std::uint64_t total = s.queue_timeout_ms + longest + 15000;
    return static_cast<unsigned>(std::min<std::uint64_t>(total, 0xffffffffu));
}

} // namespace ringfork::master
