// The 64-bit io_uring user_data encoding: which operation, on which object, of which life.
// Owns the bit layout; leaves the meaning of each op to the worker loop.
#pragma once

#include <cstdint>

namespace ringfork::net {

/// Operations the worker loop submits; one handler each.
enum class op : std::uint8_t {
    none = 0, accept, recv, send, close, timeout, signal, channel, cancel, file_read, task_send, task_recv,
    file_splice, send_ready
};

/// op in bits 56..63, generation in bits 32..55, object index in bits 0..31. The generation
/// lets a completion that arrives after its connection slot was reused be recognised.
struct user_data {
    op kind = op::none;
    std::uint32_t index = 0;
    std::uint32_t generation = 0; ///< Only the low 24 bits are kept.

    static constexpr std::uint32_t generation_mask = 0xFF'FFFF;

    [[nodiscard]] constexpr std::uint64_t encode() const noexcept
    {
        return (std::uint64_t(kind) << 56) | (std::uint64_t(generation & generation_mask) << 32) | index;
    }

    [[nodiscard]] static constexpr user_data decode(std::uint64_t v) noexcept
    {
        return {static_cast<op>(v >> 56), static_cast<std::uint32_t>(v),
                static_cast<std::uint32_t>(v >> 32) & generation_mask};
    }
};

} // namespace ringfork::net
