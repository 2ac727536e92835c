// Accept balancing for `--accept shared`: a small MAP_SHARED table, made by the master
// before fork, where each worker publishes its own counts and reads the others'.
// Owns the layout and the fairness rule; leaves pausing and resuming accept to the worker.
#pragma once

#include <atomic>
#include <cstdint>

namespace ringfork::ipc {

inline constexpr unsigned max_slots = 256;

/// One slot's published counts; only that slot's worker writes them.
struct accept_slot {
    std::atomic<std::uint64_t> accepted{0};
    std::atomic<std::uint32_t> open{0};
    std::atomic<std::uint32_t> live{0}; ///< 1 while a worker that accepts fills the slot.
};

struct accept_share {
    accept_slot slots[max_slots];

    /// Maps a zeroed table shared with every child forked afterwards; null on failure.
    [[nodiscard]] static accept_share* create() noexcept;
};

/// A worker takes more than its fair share when its open connections exceed the mean of
/// the live workers by a quarter plus `slack`, or when it took more than that share of the
/// connections accepted since `window_start` (a per-worker snapshot of all counters).
struct fair_share_window {
    std::uint64_t accepted_at_start[max_slots] = {};

    /// Takes a new snapshot of every slot's accepted counter.
    void reset(const accept_share& s, unsigned slots) noexcept;
};

/// True when slot `self` should stop accepting for a while.
[[nodiscard]] bool over_fair_share(const accept_share& s, unsigned slots, unsigned self,
                                   const fair_share_window& w, unsigned slack = 8) noexcept;

} // namespace ringfork::ipc
