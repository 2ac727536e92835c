// The task table.
#include "master/tasks/registry.hpp"

#include <utility>

#include "ipc/app_spec.hpp"
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

/// The public task_context over the runner's: what an application's function sees.
class app_context final : public ringfork::task_context {
public:
    explicit app_context(master::task_context& c) noexcept : c_(c) {}
    void progress(std::string_view line) override { c_.progress(line); }
    void emit(std::string_view bytes) override { (void)c_.emit({bytes.data(), bytes.size()}); }
    [[nodiscard]] bool cancelled() const override { return c_.cancelled(); }
    [[nodiscard]] std::chrono::steady_clock::time_point deadline() const override { return c_.deadline(); }

private:
    master::task_context& c_;
};

/// An application's function as the runner calls it: what it returns follows what it
/// emitted; what it throws fails the job with the exception's text.
task_runnable app_runnable(ringfork::task_function fn)
{
    return [fn = std::move(fn)](task_context& ctx, std::span<const char> input) {
        app_context public_ctx(ctx);
        const std::string out = fn(public_ctx, std::string_view(input.data(), input.size()));
        if (!out.empty())
            (void)ctx.emit({out.data(), out.size()});
        return 0;
    };
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
    for (const task_spec& t : s.tasks) {
        task_entry e{t.name, t.argv, {}, limits_for(s, t.name)};
        if (t.app_function && s.app != nullptr) {
            for (const auto& f : s.app->function_tasks)
                if (f.name == t.name)
                    e.function = app_runnable(f.fn);
        } else if (!t.function.empty()) {
            if (const task_function fn = find_task_function(t.function))
                e.function = fn;
        }
        entries_.push_back(std::move(e));
    }
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
