// A hashed timer wheel keyed by connection index: one deadline per connection, driven by
// one wait timeout per loop turn instead of one timeout SQE per connection.
// Owns scheduling; leaves what an expiry means to the loop.
#pragma once

#include <cstdint>
#include <vector>

namespace ringfork::worker {

class timer_wheel {
public:
    static constexpr std::uint32_t none = 0xFFFF'FFFF;

    /// `tick_ms` is the resolution; `slots` a power of two.
    timer_wheel(std::uint64_t now_ms, std::uint32_t tick_ms = 100, std::uint32_t slots = 512);

    /// Sets the deadline of `id`. Moving a deadline later is O(1) and touches no list:
    /// the entry is re-filed lazily when its old slot comes round.
    void set(std::uint32_t id, std::uint64_t deadline_ms);
    /// Removes `id`'s deadline, if any.
    void cancel(std::uint32_t id) noexcept;
    /// Calls `fire(id)` for every deadline at or before `now_ms`; each fires once.
    template <typename F> void advance(std::uint64_t now_ms, F&& fire);

    /// Milliseconds until the next tick boundary at which something could fire, or -1.
    [[nodiscard]] long next_wait_ms(std::uint64_t now_ms) const noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return count_; }
    [[nodiscard]] bool scheduled(std::uint32_t id) const noexcept
    {
        return id < nodes_.size() && nodes_[id].slot != none;
    }

private:
    struct node {
        std::uint32_t prev = none, next = none, slot = none;
        std::uint64_t deadline = 0;
        std::uint64_t filed_tick = 0; ///< The tick whose slot holds this entry.
    };

    void link(std::uint32_t id, std::uint64_t tick);
    void unlink(std::uint32_t id) noexcept;
    [[nodiscard]] std::uint64_t tick_of(std::uint64_t ms) const noexcept { return (ms + tick_ms_ - 1) / tick_ms_; }

    std::vector<node> nodes_;
    std::vector<std::uint32_t> heads_;
    std::vector<std::uint32_t> due_;
    std::uint64_t tick_ms_;
    std::uint64_t current_tick_; ///< Every tick before this has been processed.
    std::uint32_t mask_;
    std::size_t count_ = 0;
};

template <typename F> void timer_wheel::advance(std::uint64_t now_ms, F&& fire)
{
    const std::uint64_t target = now_ms / tick_ms_;
    due_.clear();
    for (; current_tick_ <= target; ++current_tick_) {
        std::uint32_t id = heads_[current_tick_ & mask_];
        while (id != none) {
            const std::uint32_t next = nodes_[id].next;
            if (nodes_[id].filed_tick <= current_tick_) {
                unlink(id);
                if (nodes_[id].deadline <= now_ms)
                    due_.push_back(id);
                else
                    link(id, std::max(tick_of(nodes_[id].deadline), current_tick_ + 1));
            }
            id = next;
        }
        if (count_ == 0) {
            current_tick_ = target + 1;
            break;
        }
    }
    current_tick_ = std::max(current_tick_, target);
    for (std::uint32_t id : due_)
        fire(id);
}

} // namespace ringfork::worker
