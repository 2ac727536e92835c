// One upstream's addresses.
#include "worker/upstream_balancer.hpp"

#include <algorithm>
#include <limits>

namespace ringfork::worker {

upstream_balancer::upstream_balancer(std::span<const ipc::upstream_address> initial)
{
    (void)replace(initial);
}

std::size_t upstream_balancer::current() const noexcept
{
    return static_cast<std::size_t>(
        std::count_if(slots_.begin(), slots_.end(), [](const endpoint& e) { return e.live && !e.removed; }));
}

bool upstream_balancer::usable(const endpoint& e, std::uint64_t now_ms) const noexcept
{
    if (!e.live || e.removed)
        return false;
    return e.ejected_until_ms == 0 || (now_ms >= e.ejected_until_ms && !e.probing);
}

int upstream_balancer::choose(std::uint64_t now_ms, tried_set tried)
{
    const auto n = static_cast<std::uint32_t>(slots_.size());
    int best = none;
    std::uint32_t best_load = std::numeric_limits<std::uint32_t>::max();
    for (std::uint32_t k = 0; k < n; ++k) {
        const std::uint32_t i = (next_ + k) % n;
        const endpoint& e = slots_[i];
        if ((tried & (1u << i)) || !usable(e, now_ms) || e.in_flight >= best_load)
            continue;
        best = static_cast<int>(i);
        best_load = e.in_flight;
    }
    if (best == none) {
        // Every address left is ejected: the one whose ejection ends first is tried
        // anyway, rather than refusing every request to a lone address for a while.
        std::uint64_t soonest = std::numeric_limits<std::uint64_t>::max();
        for (std::uint32_t i = 0; i < n; ++i) {
            const endpoint& e = slots_[i];
            if (!(tried & (1u << i)) && e.live && !e.removed && e.ejected_until_ms < soonest) {
                best = static_cast<int>(i);
                soonest = e.ejected_until_ms;
            }
        }
        if (best == none)
            return none;
    }
    endpoint& chosen = slots_[std::size_t(best)];
    if (chosen.ejected_until_ms != 0)
        chosen.probing = true;
    ++chosen.in_flight;
    next_ = static_cast<std::uint32_t>(best) + 1;
    return best;
}

bool upstream_balancer::finish(int slot, health h, std::uint64_t now_ms)
{
    endpoint& e = slots_[std::size_t(slot)];
    if (e.in_flight > 0)
        --e.in_flight;
    switch (h) {
    case health::neutral:
        return false;
    case health::ok:
        e.failures = 0;
        e.ejected_until_ms = 0;
        e.probing = false;
        return false;
    case health::failed:
        break;
    }
    ++e.failures;
    if (e.ejected_until_ms != 0) {
        e.ejected_until_ms = now_ms + eject_ms; // the probe failed: ejected again
        e.probing = false;
        return false;
    }
    if (e.failures < eject_after)
        return false;
    e.ejected_until_ms = now_ms + eject_ms;
    return true;
}

bool upstream_balancer::replace(std::span<const ipc::upstream_address> current)
{
    const auto live_of = [&](const ipc::upstream_address& a) {
        return std::find_if(slots_.begin(), slots_.end(),
                            [&](const endpoint& e) { return e.live && e.address.text == a.text; });
    };
    const auto live = static_cast<std::size_t>(
        std::count_if(slots_.begin(), slots_.end(), [](const endpoint& e) { return e.live; }));
    const auto added = static_cast<std::size_t>(std::count_if(
        current.begin(), current.end(), [&](const ipc::upstream_address& a) { return live_of(a) == slots_.end(); }));
    if (live + added > max_slots)
        return false; // removed addresses keep their slots until drained
    std::vector<bool> kept(slots_.size(), false);
    for (const ipc::upstream_address& a : current) {
        auto it = live_of(a);
        if (it != slots_.end()) {
            it->removed = false; // back in the set (it may not have drained yet)
            kept[std::size_t(it - slots_.begin())] = true;
            continue;
        }
        it = std::find_if(slots_.begin(), slots_.end(), [](const endpoint& e) { return !e.live; });
        if (it == slots_.end()) {
            slots_.emplace_back();
            kept.push_back(true);
            it = slots_.end() - 1;
        } else {
            kept[std::size_t(it - slots_.begin())] = true;
        }
        *it = endpoint{};
        it->address = a;
        it->live = true;
    }
    for (std::size_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].live && !kept[i])
            slots_[i].removed = true;
    return true;
}

} // namespace ringfork::worker
