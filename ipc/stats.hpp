// The stats snapshot a worker reports: plain counters kept on the hot path without atomics,
// and a log-bucketed latency histogram. Owns the layout and merge rules; leaves collection
// to the worker and presentation to the master.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "ipc/upstream_config.hpp"

namespace ringfork::ipc {

/// The 4xx/5xx statuses counted one by one; every other 4xx/5xx counts as "other".
inline constexpr std::array<std::uint16_t, 20> tracked_statuses = {
    400, 401, 403, 404, 405, 408, 411, 413, 414, 415, 416, 417, 429, 431, 500, 501, 502, 503, 504, 505};
/// Slots in worker_stats::responses_by_status: one per tracked status, then "other".
inline constexpr std::size_t status_slots = tracked_statuses.size() + 1;
/// The slot counting `status` (400..599), "other" for the untracked ones.
[[nodiscard]] constexpr std::size_t status_slot(unsigned status) noexcept;

/// Latency buckets: bucket i holds samples below 2^i microseconds (the last is open-ended).
inline constexpr std::size_t latency_buckets = 32;

struct latency_histogram {
    std::array<std::uint64_t, latency_buckets> counts{};
    std::uint64_t max_us = 0;
    std::uint64_t sum_us = 0; ///< Sum of all samples, for the Prometheus histogram's _sum.

    /// Records one sample.
    void record(std::uint64_t us) noexcept;
    /// Adds another histogram into this one.
    void merge(const latency_histogram& other) noexcept;
    /// Upper bound of the bucket holding quantile q (0..1), in microseconds; 0 if empty.
    [[nodiscard]] std::uint64_t quantile(double q) const noexcept;
    [[nodiscard]] std::uint64_t total() const noexcept;
};

/// Why a proxied request failed; one counter each in upstream_stats::failures.
enum class upstream_failure : std::uint8_t {
    connect,            ///< connect() failed (refused, unreachable, no such socket).
    connect_timeout,
    closed,             ///< Closed or reset before a complete response head.
    first_byte_timeout,
    idle_timeout,       ///< Silent too long mid-request or mid-response.
    malformed,          ///< A response head that cannot be read one way only.
    too_large,          ///< A response head over the limit.
    truncated,          ///< The body ended early, or its chunked framing was broken.
    no_address,         ///< No address to send it to (503).
    capacity,           ///< The worker's upstream connection limit was reached (503).
};
inline constexpr std::size_t upstream_failure_kinds = 10;

/// One upstream's counters in one worker, cumulative.
struct upstream_stats {
    std::uint64_t requests = 0;     ///< Requests routed to the upstream (each once, retries or not).
    std::array<std::uint64_t, 6> responses_by_class{}; ///< Its responses relayed, index 1..5 for 1xx..5xx.
    std::array<std::uint64_t, upstream_failure_kinds> failures{}; ///< Attempts failed, by upstream_failure.
    std::uint64_t retries = 0;      ///< Attempts after the first: a fresh connection, or another address.
    std::uint64_t ejections = 0;    ///< Addresses ejected by passive health checks.
    std::uint64_t connections = 0;  ///< Connections opened.
    latency_histogram latency;      ///< From the request's dispatch to the upstream's response head.

    void merge(const upstream_stats& other) noexcept;
};

/// Requests one worker sent to one upstream address, so that the master can count them per
/// app instance. Keyed, so merge() leaves them out: the master adds them up by key.
struct address_requests {
    std::uint64_t key = 0;      ///< address_key() of the address's text; 0: an unused entry.
    std::uint32_t upstream = 0; ///< Its upstream, in the order of the worker's settings.
    std::uint32_t reserved = 0;
    std::uint64_t requests = 0; ///< Cumulative, like every counter.
};
/// Addresses one worker counts at once; past that a new address takes the entry of one no
/// longer in any of its sets, or goes uncounted.
inline constexpr std::size_t address_request_slots = 64;
/// A non-zero key for an address's text ("127.0.0.1:41235"): FNV-1a, 0 mapped to 1.
[[nodiscard]] std::uint64_t address_key(std::string_view text) noexcept;

/// Counters are cumulative since the worker started; gauges are current values.
struct worker_stats {
    std::uint64_t requests = 0;
    std::array<std::uint64_t, 6> responses_by_class{}; ///< index 1..5 for 1xx..5xx
    std::array<std::uint64_t, status_slots> responses_by_status{}; ///< 4xx/5xx, see status_slot
    std::uint64_t bytes_in = 0;
    std::uint64_t bytes_out = 0;
    std::uint64_t connections_accepted = 0;
    std::uint64_t parse_errors = 0;
    std::uint64_t timeouts = 0;
    std::uint64_t tasks_submitted = 0;  ///< Jobs handed to the task pool.
    std::uint64_t tasks_rejected = 0;   ///< Jobs refused: queue full or pool down (503).
    std::uint32_t connections_open = 0; ///< gauge
    std::uint32_t reserved = 0;
    latency_histogram latency;
    /// Per upstream, in the order of worker_settings::proxy.upstreams.
    std::array<upstream_stats, max_upstreams> upstreams{};
    /// Per upstream address, in no order (not added up by merge()).
    std::array<address_requests, address_request_slots> by_address{};

    /// Adds another worker's counters (gauges too, for totals across live workers).
    void merge(const worker_stats& other) noexcept;
    /// Counts one response of `status`: its class, and for 4xx/5xx the status itself.
    void count_response(unsigned status) noexcept;
};

namespace detail {
/// status - 400 -> slot, built once at compile time so counting is one load.
inline constexpr auto status_slot_table = [] {
    std::array<std::uint8_t, 200> t{};
    t.fill(static_cast<std::uint8_t>(tracked_statuses.size()));
    for (std::size_t i = 0; i < tracked_statuses.size(); ++i)
        t[tracked_statuses[i] - 400] = static_cast<std::uint8_t>(i);
    return t;
}();
} // namespace detail

constexpr std::size_t status_slot(unsigned status) noexcept
{
    return status >= 400 && status < 600 ? detail::status_slot_table[status - 400] : tracked_statuses.size();
}

inline void worker_stats::count_response(unsigned status) noexcept
{
    ++responses_by_class[status / 100 % 6];
    if (status >= 400) [[unlikely]]
        ++responses_by_status[status_slot(status)];
}

} // namespace ringfork::ipc
