// The stats snapshot a worker reports: plain counters kept on the hot path without atomics,
// and a log-bucketed latency histogram. Owns the layout and merge rules; leaves collection
// to the worker and presentation to the master.
#pragma once

#include <array>
#include <cstdint>

namespace ringfork::ipc {

/// Latency buckets: bucket i holds samples below 2^i microseconds (the last is open-ended).
inline constexpr std::size_t latency_buckets = 32;

struct latency_histogram {
    std::array<std::uint64_t, latency_buckets> counts{};
    std::uint64_t max_us = 0;

    /// Records one sample.
    void record(std::uint64_t us) noexcept;
    /// Adds another histogram into this one.
    void merge(const latency_histogram& other) noexcept;
    /// Upper bound of the bucket holding quantile q (0..1), in microseconds; 0 if empty.
    [[nodiscard]] std::uint64_t quantile(double q) const noexcept;
    [[nodiscard]] std::uint64_t total() const noexcept;
};

/// Counters are cumulative since the worker started; gauges are current values.
struct worker_stats {
    std::uint64_t requests = 0;
    std::array<std::uint64_t, 6> responses_by_class{}; ///< index 1..5 for 1xx..5xx
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t connections_accepted = 0;
    std::uint64_t parse_errors = 0;
    std::uint64_t timeouts = 0;
    std::uint32_t connections_open = 0; ///< gauge
    std::uint32_t reserved = 0;
    latency_histogram latency;

    /// Adds another worker's counters (gauges too, for totals across live workers).
    void merge(const worker_stats& other) noexcept;
    /// Counts one response of `status`.
    void count_response(unsigned status) noexcept { ++responses_by_class[status / 100 % 6]; }
};

} // namespace ringfork::ipc
