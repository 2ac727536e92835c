// ASCII character classes and case-insensitive comparison for protocol text (header
// names, tokens, schemes), independent of the C locale. Owns nothing else.
#pragma once

#include <string_view>

namespace ringfork::net {

[[nodiscard]] constexpr char ascii_lower(char c) noexcept
{
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

[[nodiscard]] constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
[[nodiscard]] constexpr bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
[[nodiscard]] constexpr bool is_alnum(char c) noexcept { return is_alpha(c) || is_digit(c); }
[[nodiscard]] constexpr bool is_hex(char c) noexcept
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
/// The value of a hex digit; call only when is_hex(c).
[[nodiscard]] constexpr int hex_value(char c) noexcept
{
    return is_digit(c) ? c - '0' : ascii_lower(c) - 'a' + 10;
}

/// Letters, digits, '_' and '-': what task, upstream and app names are made of.
[[nodiscard]] constexpr bool is_name_char(char c) noexcept { return is_alnum(c) || c == '_' || c == '-'; }

/// One to `max` name characters.
[[nodiscard]] constexpr bool is_name(std::string_view s, std::size_t max) noexcept
{
    if (s.empty() || s.size() > max)
        return false;
    for (const char c : s)
        if (!is_name_char(c))
            return false;
    return true;
}

/// Equal ignoring ASCII case.
[[nodiscard]] constexpr bool iequals(std::string_view a, std::string_view b) noexcept
{
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i]))
            return false;
    return true;
}

} // namespace ringfork::net
