// How a worker's descriptors are shared out.
#include "worker/descriptor_budget.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <limits>

#include <fmt/format.h>

namespace ringfork::worker {

descriptor_budget descriptor_budget::plan(std::uint64_t nofile, unsigned max_connections) noexcept
{
    descriptor_budget b;
    b.nofile = nofile;
    b.max_connections = max_connections;
    const std::uint64_t room = nofile > own_descriptors ? nofile - own_descriptors : 0;
    if (room >= std::uint64_t(max_connections) + min_cache) {
        b.cache = static_cast<std::size_t>(std::min<std::uint64_t>(max_cache, room - max_connections));
    } else {
        b.fits = false;
        b.cache = static_cast<std::size_t>(std::min<std::uint64_t>(max_cache, room / 4));
    }
    return b;
}

descriptor_budget descriptor_budget::for_this_process(unsigned max_connections) noexcept
{
    rlimit rl{};
    std::uint64_t nofile = std::numeric_limits<std::uint64_t>::max();
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        nofile = rl.rlim_cur;
    return plan(nofile, max_connections);
}

std::string descriptor_budget::warning() const
{
    return fmt::format("descriptor limit RLIMIT_NOFILE={} cannot hold --max-connections {} plus {} of the "
                       "worker's own and {} cached files: the open-file cache keeps at most {} and connections "
                       "past the limit wait in the listen queue; raise the limit to at least {} (systemd "
                       "LimitNOFILE=, ulimit -n) or lower --max-connections",
                       nofile, max_connections, own_descriptors, min_cache, cache,
                       std::uint64_t(max_connections) + own_descriptors + min_cache);
}

} // namespace ringfork::worker
