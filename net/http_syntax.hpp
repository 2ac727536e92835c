// HTTP/1.1 syntax shared by the request and response parsers: character classes, list
// elements, Content-Length values, field lines and the loop that reads a head's field
// lines. Owns byte-level rules that hold for both directions; leaves what a field means
// and which status an error gets to each parser (and to the proxy's re-framing).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string_view>

#include "net/ascii.hpp"
#include "net/http_parser.hpp"

namespace ringfork::http::syntax {

using net::ascii_lower;

/// Character classes, one bit each, so every byte test is one table load.
enum : std::uint8_t {
    c_tchar = 1,  ///< token character (RFC 9110 §5.6.2)
    c_target = 2, ///< request-target byte: visible ASCII except '#' (no fragment on the wire)
    c_value = 4,  ///< field-value byte: VCHAR, obs-text, SP, HTAB (RFC 9110 §5.5)
    c_host = 8,   ///< reg-name byte: unreserved, sub-delims, '%' (RFC 3986 §3.2.2)
    c_digit = 16,
};

/// Each byte's classes; the parsers test a class per byte, so this is read inline.
inline constexpr std::array<std::uint8_t, 256> char_classes = [] {
    std::array<std::uint8_t, 256> table{};
    constexpr std::string_view tchar_punct = "!#$%&'*+-.^_`|~";
    constexpr std::string_view host_punct = "-._~!$&'()*+,;=%";
    for (int c = 0; c < 256; ++c) {
        const char ch = static_cast<char>(c);
        const bool digit = net::is_digit(ch);
        const bool alnum = net::is_alnum(ch);
        unsigned bits = 0;
        if (alnum || tchar_punct.find(ch) != std::string_view::npos) bits |= c_tchar;
        if (c >= 0x21 && c <= 0x7e && c != '#') bits |= c_target;
        if (c == '\t' || (c >= 0x20 && c != 0x7f)) bits |= c_value;
        if (alnum || host_punct.find(ch) != std::string_view::npos) bits |= c_host;
        if (digit) bits |= c_digit;
        table[c] = static_cast<std::uint8_t>(bits);
    }
    return table;
}();

/// Hex digit values; 0xff marks a non-hex byte.
inline constexpr std::array<std::uint8_t, 256> hex_values = [] {
    std::array<std::uint8_t, 256> table{};
    for (int c = 0; c < 256; ++c) {
        const char ch = static_cast<char>(c);
        table[c] = static_cast<std::uint8_t>(net::is_hex(ch) ? net::hex_value(ch) : 0xff);
    }
    return table;
}();

/// The byte `c` is in class `cls`.
[[nodiscard]] inline bool has(char c, std::uint8_t cls) noexcept
{
    return (char_classes[static_cast<unsigned char>(c)] & cls) != 0;
}
/// The value of a hex digit, 0xff for any other byte (one table load; net::hex_value needs
/// a separate is_hex test).
[[nodiscard]] inline std::uint8_t hex_value(char c) noexcept { return hex_values[static_cast<unsigned char>(c)]; }
[[nodiscard]] constexpr bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }
/// ASCII case-insensitive equality; `lower` must already be lower case.
[[nodiscard]] inline bool equals_lower(std::string_view s, std::string_view lower) noexcept
{
    if (s.size() != lower.size())
        return false;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (ascii_lower(s[i]) != lower[i])
            return false;
    return true;
}
[[nodiscard]] bool starts_with_lower(std::string_view s, std::string_view lower) noexcept;
/// `s` without leading and trailing spaces and tabs.
[[nodiscard]] std::string_view trim_ows(std::string_view s) noexcept;

/// Calls fn on each non-empty element of a #list, OWS trimmed (RFC 9110 §5.6.1 says
/// empty elements are ignored). Returns false as soon as fn does.
template <class Fn> bool for_each_element(std::string_view list, Fn&& fn);

/// Content-Length = 1*DIGIT. A list of identical values ("5, 5"), as some senders produce
/// when merging lines, is folded into one (RFC 9110 §8.6); anything else is invalid.
[[nodiscard]] bool parse_content_length(std::string_view value, std::uint64_t& out) noexcept;

/// The first field named `name` (case-insensitive) among `fields`, or an empty view.
[[nodiscard]] std::string_view find_field(const header* fields, std::size_t count, std::string_view name) noexcept;

/// field-line = field-name ":" OWS field-value OWS. Leading whitespace (obs-fold, or a
/// space after the start-line) and whitespace before the colon are refused (RFC 9112 §5),
/// as are NUL, CR and other controls in the value. False for a bad line.
[[nodiscard]] bool parse_field_line(std::string_view line, header& h) noexcept;

/// How reading a head's field lines ended.
enum class fields_end : std::uint8_t {
    done,      ///< The empty line was read; `pos` is just after it.
    need_more, ///< No line end yet within the limit.
    too_large, ///< The head would pass `max_bytes`, or has more than `max_fields` lines.
    bad_line,  ///< A line is not a field line.
    refused,   ///< `apply` returned a status (kept in `status`).
};

struct fields_result {
    fields_end end = fields_end::need_more;
    std::uint16_t status = 0;
};

/// Reads field lines from `p[pos..n)` into `slots` until the empty line. Line ends are
/// found with memchr inside a window that ends at `max_bytes` (of the whole head, from
/// p[0]), so an over-long head is reported as soon as the window is full. Each parsed
/// field is passed to `apply`, which returns 0 or a status that stops the head.
template <class Apply>
fields_result read_fields(const char* p, std::size_t n, std::size_t& pos, std::size_t max_bytes,
                          std::size_t max_fields, header* slots, std::size_t& count, Apply&& apply);

// Inline bodies.

template <class Fn> bool for_each_element(std::string_view list, Fn&& fn)
{
    for (;;) {
        const std::size_t comma = list.find(',');
        const std::string_view element = trim_ows(list.substr(0, comma));
        if (!element.empty() && !fn(element))
            return false;
        if (comma == std::string_view::npos)
            return true;
        list.remove_prefix(comma + 1);
    }
}

template <class Apply>
fields_result read_fields(const char* p, std::size_t n, std::size_t& pos, std::size_t max_bytes,
                          std::size_t max_fields, header* slots, std::size_t& count, Apply&& apply)
{
    // Any LF at index >= max_bytes would make the head longer than allowed, so the search
    // never looks past that.
    const std::size_t window_end = n < max_bytes ? n : max_bytes;
    for (;;) {
        const auto* lf = pos < window_end ? static_cast<const char*>(std::memchr(p + pos, '\n', window_end - pos))
                                          : nullptr;
        if (lf == nullptr)
            return {n >= max_bytes ? fields_end::too_large : fields_end::need_more, 0};
        const auto lf_at = static_cast<std::size_t>(lf - p);
        const std::size_t line_end = (lf_at > pos && p[lf_at - 1] == '\r') ? lf_at - 1 : lf_at;
        const std::string_view line{p + pos, line_end - pos};
        pos = lf_at + 1;
        if (line.empty())
            return {fields_end::done, 0};
        if (count == max_fields)
            return {fields_end::too_large, 0};
        header& h = slots[count];
        if (!parse_field_line(line, h))
            return {fields_end::bad_line, 0};
        ++count;
        if (const std::uint16_t status = apply(h))
            return {fields_end::refused, status};
    }
}

} // namespace ringfork::http::syntax
