// Respawn back-off for one worker slot: the first unexpected exit is refilled at once,
// repeated ones wait 100 ms doubling to 10 s, and 30 s of stable uptime forgives them.
// Owns the delay rule; leaves timing and forking to the master.
#pragma once

#include <cstdint>

namespace ringfork::master {

class backoff {
public:
    static constexpr std::uint64_t first_ms = 100;
    static constexpr std::uint64_t max_ms = 10'000;
    static constexpr std::uint64_t stable_ms = 30'000;

    /// The delay before refilling a slot whose worker just exited after `uptime_ms`.
    [[nodiscard]] std::uint64_t next_delay(std::uint64_t uptime_ms) noexcept;
    /// Consecutive quick exits so far.
    [[nodiscard]] unsigned failures() const noexcept { return failures_; }

private:
    unsigned failures_ = 0;
};

inline std::uint64_t backoff::next_delay(std::uint64_t uptime_ms) noexcept
{
    if (uptime_ms >= stable_ms)
        failures_ = 0;
    const unsigned n = failures_++;
    if (n == 0)
        return 0;
    const unsigned shift = n - 1 < 16 ? n - 1 : 16;
    const std::uint64_t d = first_ms << shift;
    return d < max_ms ? d : max_ms;
}

} // namespace ringfork::master
