// Query strings.
#include "net/query.hpp"

#include "net/ascii.hpp"

namespace ringfork::net {

std::string decode_query_component(std::string_view raw)
{
    std::string out;
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        const char c = raw[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%' && i + 2 < raw.size() && is_hex(raw[i + 1]) && is_hex(raw[i + 2])) {
            out += static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2]));
            i += 2;
        } else {
            out += c;
        }
    }
    return out;
}

std::optional<std::string_view> query_value(std::string_view query, std::string_view key) noexcept
{
    std::optional<std::string_view> found;
    for_each_query_param(query, [&](std::string_view k, std::string_view v) {
        if (!found && k == key)
            found = v;
    });
    return found;
}

bool query_has(std::string_view query, std::string_view key, std::string_view value)
{
    bool found = false;
    for_each_query_param(query, [&](std::string_view k, std::string_view v) { found = found || (k == key && v == value); });
    return found;
}

} // namespace ringfork::net
