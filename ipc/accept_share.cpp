// Accept balancing table for shared listeners.
#include "ipc/accept_share.hpp"

#include <sys/mman.h>

#include <new>

namespace ringfork::ipc {

accept_share* accept_share::create() noexcept
{
    void* p = mmap(nullptr, sizeof(accept_share), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return nullptr;
    return new (p) accept_share();
}

void fair_share_window::reset(const accept_share& s, unsigned slots) noexcept
{
    for (unsigned i = 0; i < slots && i < max_slots; ++i)
        accepted_at_start[i] = s.slots[i].accepted.load(std::memory_order_relaxed);
}

bool over_fair_share(const accept_share& s, unsigned slots, unsigned self, const fair_share_window& w,
                     unsigned slack) noexcept
{
    std::uint64_t live = 0, open_sum = 0, taken_sum = 0;
    for (unsigned i = 0; i < slots && i < max_slots; ++i) {
        if (!s.slots[i].live.load(std::memory_order_relaxed))
            continue;
        ++live;
        open_sum += s.slots[i].open.load(std::memory_order_relaxed);
        taken_sum += s.slots[i].accepted.load(std::memory_order_relaxed) - w.accepted_at_start[i];
    }
    if (live <= 1)
        return false;
    const std::uint64_t my_open = s.slots[self].open.load(std::memory_order_relaxed);
    const std::uint64_t my_taken = s.slots[self].accepted.load(std::memory_order_relaxed) - w.accepted_at_start[self];
    // Compare scaled by `live` to stay in integers: mine * live > sum * 5/4 + slack * live.
    const bool open_heavy = my_open * live * 4 > open_sum * 5 + std::uint64_t(slack) * live * 4;
    const bool taking_heavy = my_taken * live * 4 > taken_sum * 5 + std::uint64_t(slack) * live * 4;
    return open_heavy || taking_heavy;
}

} // namespace ringfork::ipc
