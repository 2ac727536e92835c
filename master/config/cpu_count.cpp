// The `--workers auto` rule.
#include "master/config/cpu_count.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

namespace ringfork::master {

std::optional<double> parse_cpu_max(std::string_view text) noexcept
{
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
        text.remove_suffix(1);
    const auto space = text.find(' ');
    if (space == std::string_view::npos)
        return std::nullopt;
    const std::string_view quota = text.substr(0, space);
    const std::string_view period = text.substr(space + 1);
    if (quota == "max")
        return std::nullopt;
    unsigned long q = 0, p = 0;
    auto r1 = std::from_chars(quota.data(), quota.data() + quota.size(), q);
    auto r2 = std::from_chars(period.data(), period.data() + period.size(), p);
    if (r1.ec != std::errc{} || r1.ptr != quota.data() + quota.size() || r2.ec != std::errc{} ||
        r2.ptr != period.data() + period.size() || p == 0 || q == 0)
        return std::nullopt;
    return static_cast<double>(q) / static_cast<double>(p);
}

unsigned workers_for(unsigned affinity, std::optional<double> quota) noexcept
{
    unsigned n = std::max(1u, affinity);
    if (quota)
        n = std::min(n, static_cast<unsigned>(std::max(1.0, std::ceil(*quota))));
    return n;
}

std::optional<double> cgroup_cpu_quota()
{
    std::ifstream self("/proc/self/cgroup");
    std::string line, path;
    while (std::getline(self, line))
        if (line.starts_with("0::"))
            path = line.substr(3);
    if (path.empty())
        return std::nullopt;
    std::optional<double> lowest;
    for (;;) {
        std::ifstream f("/sys/fs/cgroup" + path + (path == "/" ? "" : "/") + "cpu.max");
        std::stringstream text;
        text << f.rdbuf();
        if (auto q = parse_cpu_max(text.str()); q && (!lowest || *q < *lowest))
            lowest = q;
        if (path == "/" || path.empty())
            break;
        const auto slash = path.rfind('/');
        path = slash == 0 ? "/" : path.substr(0, slash);
    }
    return lowest;
}

unsigned affinity_cpus() noexcept
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0)
        return 1;
    return static_cast<unsigned>(CPU_COUNT(&set));
}

unsigned auto_workers() { return workers_for(affinity_cpus(), cgroup_cpu_quota()); }

} // namespace ringfork::master
