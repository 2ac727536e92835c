// The monotonic clock every loop and deadline in ringfork is measured on.
// Owns reading it; leaves what the times mean to the callers.
#pragma once

#include <cstdint>
#include <ctime>

namespace ringfork::net {

/// Microseconds on CLOCK_MONOTONIC (a vDSO call, no system call).
[[nodiscard]] inline std::uint64_t monotonic_us() noexcept
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::uint64_t(ts.tv_sec) * 1'000'000 + std::uint64_t(ts.tv_nsec) / 1000;
}

/// Milliseconds on CLOCK_MONOTONIC.
[[nodiscard]] inline std::uint64_t monotonic_ms() noexcept { return monotonic_us() / 1000; }

} // namespace ringfork::net
