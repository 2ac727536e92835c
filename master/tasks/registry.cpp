// The task table.
#include "master/tasks/registry.hpp"

#include <utility>

#include "ipc/task_protocol.hpp"
#include "master/tasks/builtin_tasks.hpp"

namespace ringfork::master {

namespace {

std::vector<std::pair<std::string, task_function>>& functions()
{
    // Built on first use, so registrations from static initialisers find it ready.
    static std::vector<std::pair<std::string, task_function>> table = {{"prime", prime_task}, {"fib", fib_task}};
    return table;
}

} // namespace

bool register_task_function(std::string_view name, task_function fn)
{
    if (!ipc::valid_task_name(name) || fn == nullptr || find_task_function(name))
        return false;
    functions().emplace_back(name, fn);
    return true;
}

task_function find_task_function(std::string_view name) noexcept
{
    for (const auto& [n, fn] : functions())
        if (n == name)
            return fn;
    return nullptr;
}

std::string task_function_names()
{
    std::string out;
    for (const auto& f : functions())
        out += (out.empty() ? "builtin:" : ", builtin:") + f.first;
    return out;
}

task_registry::task_registry(const task_pool_settings& s)
{
    for (const task_spec& t : s.tasks)
        entries_.push_back({t.name, t.argv, t.function.empty() ? nullptr : find_task_function(t.function),
                            limits_for(s, t.name)});
}

const task_entry* task_registry::find(std::string_view name) const noexcept
{
    const int i = index_of(name);
    return i < 0 ? nullptr : &entries_[static_cast<std::size_t>(i)];
}

int task_registry::index_of(std::string_view name) const noexcept
{
    for (std::size_t i = 0; i < entries_.size(); ++i)
        if (entries_[i].name == name)
            return static_cast<int>(i);
    return -1;
}

} // namespace ringfork::master
