// How a worker's descriptors are shared out: RLIMIT_NOFILE holds the worker's own
// descriptors, --max-connections client sockets, and what is left for the open-file cache.
// Owns that arithmetic and its warning; leaves raising the limit to the master and
// enforcing the shares to the acceptor and the cache.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace ringfork::worker {

struct descriptor_budget {
    /// Listeners, ring, channel, root, logs, task sockets and a confined open's temporary.
    static constexpr std::uint64_t own_descriptors = 64;
    /// The cache is never given more than this, however high the limit.
    static constexpr std::size_t max_cache = 4096;
    /// Below this many cached files beside every connection, the limit does not fit.
    static constexpr std::size_t min_cache = 64;

    std::uint64_t nofile = 0;     ///< RLIMIT_NOFILE (soft) of this process.
    unsigned max_connections = 0; ///< --max-connections (per worker).
    std::size_t cache = 0;        ///< Descriptors the open-file cache may keep.
    bool fits = true;             ///< nofile holds own + max_connections + min_cache.

    /// The shares for `nofile` and `max_connections`: the cache gets what the connections
    /// leave, up to max_cache; when that is under min_cache the limit does not fit and the
    /// cache gets a quarter of what is left after the worker's own descriptors.
    [[nodiscard]] static descriptor_budget plan(std::uint64_t nofile, unsigned max_connections) noexcept;
    /// plan() for this process's RLIMIT_NOFILE.
    [[nodiscard]] static descriptor_budget for_this_process(unsigned max_connections) noexcept;
    /// The startup warning for a limit that does not fit, naming the limits and the fix.
    [[nodiscard]] std::string warning() const;
};

} // namespace ringfork::worker
