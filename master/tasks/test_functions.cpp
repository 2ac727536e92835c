// Function tasks compiled only into ringfork-test, the binary the process tests run: what a
// test needs a runner to do that no builtin does. Registered before options are parsed
// (static initialisation of this object file, which is linked into that binary only).
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "master/tasks/builtin_tasks.hpp"
#include "master/tasks/registry.hpp"

namespace ringfork::master {

namespace {

unsigned arg_or(const task_context& ctx, std::string_view key, unsigned fallback)
{
    const auto v = query_value(ctx.args(), key);
    unsigned n = 0;
    if (!v || v->empty())
        return fallback;
    for (const char c : *v) {
        if (c < '0' || c > '9' || n > 100000)
            return fallback;
        n = n * 10 + static_cast<unsigned>(c - '0');
    }
    return n;
}

/// builtin:test-hold: allocates mb=N MiB (default 200), touches every page, and keeps it for
/// the rest of the runner's life: what --task-max-rss is for.
int hold_memory(task_context& ctx, std::span<const char>)
{
    static std::vector<std::unique_ptr<char[]>> held;
    const std::size_t mb = arg_or(ctx, "mb", 200);
    auto block = std::make_unique<char[]>(mb << 20);
    std::memset(block.get(), 1, mb << 20);
    held.push_back(std::move(block));
    const std::string line = fmt::format("holding {} MiB\n", mb);
    ctx.emit({line.data(), line.size()});
    return 0;
}

/// builtin:test-spin: never returns and ignores cancellation; only SIGKILL ends it.
int spin_forever(task_context& ctx, std::span<const char>)
{
    ctx.progress("spinning");
    for (;;)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

[[maybe_unused]] const bool registered = register_task_function("test-hold", hold_memory) &&
                        register_task_function("test-spin", spin_forever);

} // namespace

} // namespace ringfork::master
