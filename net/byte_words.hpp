// Eight bytes at a time: tests over a word that say whether any of its bytes is below a
// bound or equal to a given byte, for scans that look for rare bytes in short strings
// (a header value's CR, LF or NUL; a path's '%' or dot) without a branch per byte.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace ringfork::net::byte_words {

inline constexpr std::uint64_t ones = 0x0101010101010101ull;
inline constexpr std::uint64_t highs = 0x8080808080808080ull;

/// Non-zero when some byte of `w` is below `bound` (at most 0x80): (w - bound..bound) & ~w
/// & 0x80..80. A borrow can mark a byte above a true one, never one alone, so the test is
/// exact as a yes or no.
[[nodiscard]] constexpr std::uint64_t below(std::uint64_t w, std::uint8_t bound) noexcept
{
    return (w - ones * bound) & ~w & highs;
}

/// Non-zero when some byte of `w` is `c`.
[[nodiscard]] constexpr std::uint64_t equal(std::uint64_t w, char c) noexcept
{
    return below(w ^ (ones * static_cast<unsigned char>(c)), 1);
}

/// True when `test(word)` is non-zero for some eight-byte word of `s`. The last word
/// overlaps the one before it; a string shorter than a word is padded with 'a', which the
/// test must not mark (below() with a bound up to 'a', equal() to any other byte).
template <typename Test> [[nodiscard]] bool any(std::string_view s, Test test) noexcept
{
    const char* p = s.data();
    const std::size_t n = s.size();
    std::uint64_t w = ones * 'a';
    if (n < sizeof w) {
        if (n > 0) // an empty view's data() may be null, which memcpy must not get
            std::memcpy(&w, p, n);
        return test(w) != 0;
    }
    for (std::size_t i = 0; i + sizeof w < n; i += sizeof w) {
        std::memcpy(&w, p + i, sizeof w);
        if (test(w)) [[unlikely]]
            return true;
    }
    std::memcpy(&w, p + n - sizeof w, sizeof w);
    return test(w) != 0;
}

} // namespace ringfork::net::byte_words
