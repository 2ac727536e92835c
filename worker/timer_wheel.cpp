// Timer wheel.
#include "worker/timer_wheel.hpp"

#include <algorithm>

namespace ringfork::worker {

timer_wheel::timer_wheel(std::uint64_t now_ms, std::uint32_t tick_ms, std::uint32_t slots)
    : heads_(slots, none), tick_ms_(tick_ms), current_tick_(now_ms / tick_ms), mask_(slots - 1)
{
}

void timer_wheel::link(std::uint32_t id, std::uint64_t tick)
{
    node& n = nodes_[id];
    const std::uint32_t slot = static_cast<std::uint32_t>(tick & mask_);
    n.slot = slot;
    n.filed_tick = tick;
    n.prev = none;
    n.next = heads_[slot];
    if (n.next != none)
        nodes_[n.next].prev = id;
    heads_[slot] = id;
    ++count_;
}

void timer_wheel::unlink(std::uint32_t id) noexcept
{
    node& n = nodes_[id];
    if (n.slot == none)
        return;
    if (n.prev != none)
        nodes_[n.prev].next = n.next;
    else
        heads_[n.slot] = n.next;
    if (n.next != none)
        nodes_[n.next].prev = n.prev;
    n.prev = n.next = n.slot = none;
    --count_;
}

void timer_wheel::set(std::uint32_t id, std::uint64_t deadline_ms)
{
    if (id >= nodes_.size())
        nodes_.resize(std::max<std::size_t>(id + 1, nodes_.size() * 2));
    node& n = nodes_[id];
    n.deadline = deadline_ms;
    const std::uint64_t tick = std::max(tick_of(deadline_ms), current_tick_);
    if (n.slot != none) {
        if (n.filed_tick <= tick)
            return; // filed no later than needed: re-filed when that slot comes round
        unlink(id);
    }
    link(id, tick);
}

void timer_wheel::cancel(std::uint32_t id) noexcept
{
    if (id < nodes_.size())
        unlink(id);
}

long timer_wheel::next_wait_ms(std::uint64_t now_ms) const noexcept
{
    if (count_ == 0)
        return -1;
    const std::uint64_t next_boundary = (now_ms / tick_ms_ + 1) * tick_ms_;
    return static_cast<long>(next_boundary - now_ms);
}

} // namespace ringfork::worker
