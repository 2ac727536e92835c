// Query strings (application/x-www-form-urlencoded): splitting into parameters and
// decoding one component. Owns the syntax; leaves what a parameter means to its caller.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ringfork::net {

/// Calls `fn(key, value)` with the raw (still encoded) text of every '&'-separated
/// parameter, in order; a parameter without '=' has an empty value; empty ones are skipped.
template <typename F> void for_each_query_param(std::string_view query, F&& fn)
{
    while (!query.empty()) {
        const std::size_t amp = query.find('&');
        const std::string_view item = query.substr(0, amp);
        if (!item.empty()) {
            const std::size_t eq = item.find('=');
            fn(item.substr(0, eq), eq == std::string_view::npos ? std::string_view() : item.substr(eq + 1));
        }
        if (amp == std::string_view::npos)
            break;
        query.remove_prefix(amp + 1);
    }
}

/// Decodes one component: '+' is a space and %XX a byte; a '%' not followed by two hex
/// digits stays as it is.
[[nodiscard]] std::string decode_query_component(std::string_view raw);

/// The raw value of the first parameter named `key` (compared undecoded); an empty view for
/// a parameter without '='; nullopt when there is none.
[[nodiscard]] std::optional<std::string_view> query_value(std::string_view query, std::string_view key) noexcept;

/// True when the query has parameter `key` with exactly the raw value `value` ("async=1").
[[nodiscard]] bool query_has(std::string_view query, std::string_view key, std::string_view value);

} // namespace ringfork::net
