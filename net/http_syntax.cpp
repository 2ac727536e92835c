// HTTP/1.1 syntax shared by the request and response parsers.
#include "net/http_syntax.hpp"

namespace ringfork::http::syntax {

bool starts_with_lower(std::string_view s, std::string_view lower) noexcept
{
    return s.size() >= lower.size() && equals_lower(s.substr(0, lower.size()), lower);
}

std::string_view trim_ows(std::string_view s) noexcept
{
    while (!s.empty() && is_ows(s.front()))
        s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back()))
        s.remove_suffix(1);
    return s;
}

bool parse_content_length(std::string_view value, std::uint64_t& out) noexcept
{
    bool first = true;
    std::uint64_t folded = 0;
    for (;;) {
        const std::size_t comma = value.find(',');
        const std::string_view element = trim_ows(value.substr(0, comma));
        if (element.empty())
            return false;
        std::uint64_t n = 0;
        for (const char c : element) {
            if (!has(c, c_digit))
                return false;
            const auto digit = static_cast<std::uint64_t>(c - '0');
            if (n > (std::numeric_limits<std::uint64_t>::max() - digit) / 10)
                return false;
            n = n * 10 + digit;
        }
        if (!first && n != folded)
            return false;
        folded = n;
        first = false;
        if (comma == std::string_view::npos)
            break;
        value.remove_prefix(comma + 1);
    }
    out = folded;
    return true;
}

std::string_view find_field(const header* fields, std::size_t count, std::string_view name) noexcept
{
    for (std::size_t i = 0; i < count; ++i)
        if (net::iequals(fields[i].name, name))
            return fields[i].value;
    return {};
}

bool parse_field_line(std::string_view line, header& h) noexcept
{
    std::size_t i = 0;
    while (i < line.size() && has(line[i], c_tchar))
        ++i;
    if (i == 0 || i == line.size() || line[i] != ':')
        return false;
    h.name = line.substr(0, i);
    ++i;
    while (i < line.size() && is_ows(line[i]))
        ++i;
    const std::size_t value_start = i;
    for (; i < line.size(); ++i)
        if (!has(line[i], c_value))
            return false; // NUL, CR, other controls, DEL
    std::size_t value_end = line.size();
    while (value_end > value_start && is_ows(line[value_end - 1]))
        --value_end;
    h.value = line.substr(value_start, value_end - value_start);
    return true;
}

} // namespace ringfork::http::syntax
