// Flag values.
#include "master/config/flag_values.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace ringfork::master {

std::optional<unsigned long long> parse_uint(std::string_view v)
{
    unsigned long long n = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size())
        return std::nullopt;
    return n;
}

std::optional<unsigned> parse_seconds_ms(std::string_view v)
{
    double s = 0;
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), s);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || !(s > 0) || s > 86400)
        return std::nullopt;
    return static_cast<unsigned>(std::lround(s * 1000));
}

std::optional<unsigned> parse_interval_ms(std::string_view v)
{
    std::optional<unsigned> ms;
    if (v.ends_with("ms")) {
        auto n = parse_uint(v.substr(0, v.size() - 2));
        if (n && *n <= 60'000)
            ms = static_cast<unsigned>(*n);
    } else {
        ms = parse_seconds_ms(v.ends_with("s") ? v.substr(0, v.size() - 1) : v);
    }
    if (!ms || *ms < 10 || *ms > 60'000)
        return std::nullopt;
    return ms;
}

std::optional<unsigned long long> parse_size(std::string_view v)
{
    unsigned long long mult = 1;
    if (!v.empty()) {
        switch (v.back()) {
        case 'k': case 'K': mult = 1ull << 10; break;
        case 'm': case 'M': mult = 1ull << 20; break;
        case 'g': case 'G': mult = 1ull << 30; break;
        default: break;
        }
        if (mult != 1)
            v.remove_suffix(1);
    }
    auto n = parse_uint(v);
    if (!n || *n > (~0ull) / mult)
        return std::nullopt;
    return *n * mult;
}

std::string set_count(std::string_view v, unsigned lo, unsigned hi, unsigned& field)
{
    const auto n = parse_uint(v);
    if (!n || *n < lo || *n > hi)
        return fmt::format("'{}' is not a number from {} to {}", v, lo, hi);
    field = static_cast<unsigned>(*n);
    return {};
}

std::string set_seconds_ms(std::string_view v, unsigned& ms)
{
    const auto n = parse_seconds_ms(v);
    if (!n)
        return fmt::format("'{}' is not a positive number of seconds", v);
    ms = *n;
    return {};
}

std::string set_seconds(std::string_view v, double& seconds)
{
    unsigned ms = 0;
    std::string why = set_seconds_ms(v, ms);
    if (why.empty())
        seconds = ms / 1000.0;
    return why;
}

std::string set_size(std::string_view v, unsigned long long max, unsigned long long& bytes)
{
    const auto n = parse_size(v);
    if (!n || *n < 64 || *n > max)
        return fmt::format("'{}' is not a size in bytes (k/m/g suffixes allowed, at least 64)", v);
    bytes = *n;
    return {};
}

std::string parse_address_value(std::string_view v, net::address& out)
{
    const auto a = net::parse_address(v);
    if (!a)
        return fmt::format("'{}' is not ADDR:PORT (IPv4, [IPv6] or *:PORT)", v);
    out = *a;
    return {};
}

std::string set_text(std::string_view v, std::string_view what, std::string& field)
{
    if (v.empty())
        return fmt::format("needs a {}", what);
    field = v;
    return {};
}

} // namespace ringfork::master
