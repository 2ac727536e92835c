// The worker's io_uring operations and their 64-bit user_data encoding: which kind of
// operation, on which object, of which life, and (for body sources) which of its own ops.
// Owns the bit layout; leaves the meaning of each op to the handler the loop routes it to.
#pragma once

#include <cstdint>

namespace ringfork::worker {

/// Who handles a completion; the loop's one switch routes on this.
enum class op : std::uint8_t {
    none = 0,
    accept,  ///< A listener's accept (index: the listener).
    recv,    ///< A connection's multishot receive.
    send,    ///< A connection's send of its output.
    close,   ///< A connection's close (errors only: success is skipped).
    cancel,  ///< A cancel request: nothing to act on.
    source,  ///< An op a connection's body source submitted; `tag` is the source's own.
    service, ///< An op of a per-worker service (`tag`: which one; index/generation: its own).
    signal,  ///< The worker's signalfd read.
    channel, ///< The master channel's receive.
};

/// kind in bits 56..63, tag in 48..55, generation in 24..47, index in 0..23. The generation
/// lets a completion that arrives after its connection slot was reused be recognised; the
/// tag is opaque to the loop and tells a body source which of its ops completed.
struct user_data {
    op kind = op::none;
    std::uint8_t tag = 0;
    std::uint32_t index = 0;      ///< Only the low 24 bits are kept.
    std::uint32_t generation = 0; ///< Only the low 24 bits are kept.

    static constexpr std::uint32_t index_mask = 0xFF'FFFF;
    static constexpr std::uint32_t generation_mask = 0xFF'FFFF;

    [[nodiscard]] constexpr std::uint64_t encode() const noexcept
    {
        return (std::uint64_t(kind) << 56) | (std::uint64_t(tag) << 48) |
               (std::uint64_t(generation & generation_mask) << 24) | (index & index_mask);
    }

    [[nodiscard]] static constexpr user_data decode(std::uint64_t v) noexcept
    {
        return {static_cast<op>(v >> 56), static_cast<std::uint8_t>(v >> 48),
                static_cast<std::uint32_t>(v) & index_mask, static_cast<std::uint32_t>(v >> 24) & generation_mask};
    }
};

/// Shorthand for an encoded user_data.
[[nodiscard]] constexpr std::uint64_t ud(op kind, std::uint32_t index = 0, std::uint32_t generation = 0,
                                         std::uint8_t tag = 0) noexcept
{
    return user_data{kind, tag, index, generation}.encode();
}

} // namespace ringfork::worker
