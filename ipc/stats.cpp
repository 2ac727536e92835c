// Stats snapshot arithmetic.
#include "ipc/stats.hpp"

#include <algorithm>
#include <bit>

namespace ringfork::ipc {

void latency_histogram::record(std::uint64_t us) noexcept
{
    const std::size_t bucket = std::min<std::size_t>(std::bit_width(us), latency_buckets - 1);
    ++counts[bucket];
    max_us = std::max(max_us, us);
    sum_us += us;
}

void latency_histogram::merge(const latency_histogram& other) noexcept
{
    for (std::size_t i = 0; i < latency_buckets; ++i)
        counts[i] += other.counts[i];
    max_us = std::max(max_us, other.max_us);
    sum_us += other.sum_us;
}

std::uint64_t latency_histogram::total() const noexcept
{
    std::uint64_t n = 0;
    for (auto c : counts)
        n += c;
    return n;
}

std::uint64_t latency_histogram::quantile(double q) const noexcept
{
    const std::uint64_t n = total();
    if (n == 0)
        return 0;
    const auto rank = static_cast<std::uint64_t>(q * static_cast<double>(n - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < latency_buckets; ++i) {
        seen += counts[i];
        if (seen >= rank)
            return std::min<std::uint64_t>(std::uint64_t(1) << i, max_us);
    }
    return max_us;
}

std::uint64_t address_key(std::string_view text) noexcept
{
    std::uint64_t h = 14695981039346656037ull;
    for (const char c : text) {
        h ^= static_cast<unsigned char>(c);
        h *= 1099511628211ull;
    }
    return h == 0 ? 1 : h;
}

void upstream_stats::merge(const upstream_stats& o) noexcept
{
    requests += o.requests;
    for (std::size_t i = 0; i < responses_by_class.size(); ++i)
        responses_by_class[i] += o.responses_by_class[i];
    for (std::size_t i = 0; i < failures.size(); ++i)
        failures[i] += o.failures[i];
    retries += o.retries;
    ejections += o.ejections;
    connections += o.connections;
    latency.merge(o.latency);
}

void worker_stats::merge(const worker_stats& o) noexcept
{
    requests += o.requests;
    for (std::size_t i = 0; i < responses_by_class.size(); ++i)
        responses_by_class[i] += o.responses_by_class[i];
    for (std::size_t i = 0; i < responses_by_status.size(); ++i)
        responses_by_status[i] += o.responses_by_status[i];
    bytes_in += o.bytes_in;
    bytes_out += o.bytes_out;
    connections_accepted += o.connections_accepted;
    parse_errors += o.parse_errors;
    timeouts += o.timeouts;
    tasks_submitted += o.tasks_submitted;
    tasks_rejected += o.tasks_rejected;
    connections_open += o.connections_open;
    latency.merge(o.latency);
    for (std::size_t i = 0; i < upstreams.size(); ++i)
        upstreams[i].merge(o.upstreams[i]);
}

} // namespace ringfork::ipc
