// One upstream's addresses as a worker sees them: which are current, how many requests
// each has in flight, and their passive health (consecutive failures, ejection, probe).
// Owns choosing an address and the address set's changes; leaves sockets and connections
// to the upstream pool. No I/O, so it is tested without sockets.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "ipc/upstream_config.hpp"

namespace ringfork::worker {

class upstream_balancer {
public:
    /// Consecutive failures that eject an address, and for how long; then one request
    /// (the probe) may go to it, and its outcome ends or renews the ejection.
    static constexpr unsigned eject_after = 3;
    static constexpr std::uint64_t eject_ms = 10'000;
    static constexpr int none = -1;

    /// One address, kept in its slot while requests or connections still refer to it.
    struct endpoint {
        ipc::upstream_address address;
        bool removed = false;          ///< Not in the current set: no new request.
        bool probing = false;          ///< The one request allowed after an ejection is out.
        std::uint32_t in_flight = 0;   ///< Requests using a connection to it now.
        std::uint32_t idle = 0;        ///< Idle keep-alive connections to it (kept by the pool).
        std::uint32_t failures = 0;    ///< Consecutive.
        std::uint64_t ejected_until_ms = 0; ///< Non-zero: ejected (until then, then probed).
        bool live = false;             ///< The slot holds an address (removed ones until drained).
    };

    /// Tried addresses of one request: one bit per slot.
    using tried_set = std::uint32_t;

    explicit upstream_balancer(std::span<const ipc::upstream_address> initial);

    /// The address for a new request: among current addresses not in `tried` and not
    /// ejected, the one with the fewest requests in flight (ties go round); an ejected one
    /// whose time is up takes one probe request first. When only ejected addresses are
    /// left, the one whose ejection ends first is tried anyway, so a lone address is
    /// never refused for good. `none` when there is no current address outside `tried`.
    /// The chosen address counts the request as in flight.
    [[nodiscard]] int choose(std::uint64_t now_ms, tried_set tried);
    /// What a request's end says about its address's health.
    enum class health : std::uint8_t {
        ok,      ///< A response head arrived.
        failed,  ///< Connect error or timeout, or closed, reset or silent before any response byte.
        neutral, ///< Nothing to learn (the client left, the response was malformed).
    };
    /// The request on `slot` ended. True when this ejected the address.
    bool finish(int slot, health h, std::uint64_t now_ms);
    /// Replaces the current set: addresses kept keep their state and slot, new ones start
    /// healthy, missing ones become removed (no new request; still counted until drained).
    /// False (nothing changed) when the set has more addresses than slots can hold.
    bool replace(std::span<const ipc::upstream_address> current);
    /// Calls `report(slot, endpoint)` once for every removed address with nothing in flight
    /// and no idle connection, and frees its slot.
    template <class F> void collect_drained(F&& report);

    [[nodiscard]] const endpoint& at(int slot) const noexcept { return slots_[std::size_t(slot)]; }
    [[nodiscard]] endpoint& at(int slot) noexcept { return slots_[std::size_t(slot)]; }
    [[nodiscard]] std::size_t slots() const noexcept { return slots_.size(); }
    /// Current addresses (not removed).
    [[nodiscard]] std::size_t current() const noexcept;

    /// Slots in use at most: the current set and removed addresses not yet drained.
    static constexpr std::size_t max_slots = 32;

private:
    [[nodiscard]] bool usable(const endpoint& e, std::uint64_t now_ms) const noexcept;

    std::vector<endpoint> slots_;
    std::uint32_t next_ = 0; ///< Where the round among equals starts.
};

template <class F> void upstream_balancer::collect_drained(F&& report)
{
    for (std::size_t i = 0; i < slots_.size(); ++i) {
        endpoint& e = slots_[i];
        if (e.live && e.removed && e.in_flight == 0 && e.idle == 0) {
            report(static_cast<int>(i), static_cast<const endpoint&>(e));
            e = endpoint{};
        }
    }
}

} // namespace ringfork::worker
