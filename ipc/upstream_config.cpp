// Upstreams and proxy routes.
#include "ipc/upstream_config.hpp"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "net/address.hpp"
#include "net/ascii.hpp"
#include "net/unix_address.hpp"

namespace ringfork::ipc {

namespace {

/// A proxy prefix is matched against normalised paths segment by segment, so it must
/// look like one: no empty, "." or ".." segment, nothing percent-encoded, no pattern braces.
bool valid_prefix(std::string_view p) noexcept
{
    if (p.empty() || p.front() != '/')
        return false;
    if (p == "/")
        return true;
    std::size_t at = 1;
    for (;;) {
        const std::size_t slash = p.find('/', at);
        const std::string_view seg = p.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
        if (seg.empty() || seg == "." || seg == "..")
            return false;
        for (const char c : seg)
            if (c < 0x21 || c > 0x7e || c == '{' || c == '}' || c == '?' || c == '#' || c == '%')
                return false;
        if (slash == std::string_view::npos)
            return true;
        at = slash + 1;
    }
}

bool any_address(const sockaddr_storage& a) noexcept
{
    if (a.ss_family == AF_INET6) {
        const auto& v6 = reinterpret_cast<const sockaddr_in6&>(a).sin6_addr;
        return IN6_IS_ADDR_UNSPECIFIED(&v6);
    }
    return reinterpret_cast<const sockaddr_in&>(a).sin_addr.s_addr == INADDR_ANY;
}

const char* timeout_flag(upstream_timeout_kind k) noexcept
{
    switch (k) {
    case upstream_timeout_kind::connect: return "--upstream-connect-timeout";
    case upstream_timeout_kind::first_byte: return "--upstream-first-byte-timeout";
    case upstream_timeout_kind::idle: return "--upstream-idle-timeout";
    }
    return "--upstream-*-timeout";
}

} // namespace

std::optional<upstream_address> parse_upstream_address(std::string_view text)
{
    upstream_address out;
    out.text = text;
    if (text.starts_with("unix:")) {
        const std::string_view path = text.substr(5);
        const auto sun = net::make_unix_address(path);
        if (!sun || path.front() != '/')
            return std::nullopt;
        std::memcpy(&out.addr, &sun->storage, sizeof sun->storage);
        out.length = sun->length;
        return out;
    }
    // net::parse_address also takes ":PORT" and "*:PORT" (listen on any address): not a
    // place to connect to.
    if (text.empty() || text.front() == ':' || text.front() == '*')
        return std::nullopt;
    const auto a = net::parse_address(text);
    if (!a || a->port() == 0 || any_address(a->storage))
        return std::nullopt;
    out.addr = a->storage;
    out.length = a->length;
    return out;
}

bool valid_upstream_name(std::string_view name) noexcept
{
    return net::is_name(name, upstream_name_max);
}

int proxy_settings::find(std::string_view name) const noexcept
{
    for (std::size_t i = 0; i < upstreams.size(); ++i)
        if (upstreams[i].name == name)
            return static_cast<int>(i);
    return -1;
}

std::vector<std::string> proxy_patterns(std::string_view prefix)
{
    if (prefix == "/")
        return {"/{*path}"};
    return {std::string(prefix), fmt::format("{}/{{*path}}", prefix)};
}

std::string parse_upstream_flag(std::string_view value, upstream_settings& out)
{
    const std::size_t eq = value.find('=');
    if (eq == std::string_view::npos)
        return fmt::format("'{}' is not NAME=ADDR[,ADDR...]", value);
    const std::string_view name = value.substr(0, eq);
    if (!valid_upstream_name(name))
        return fmt::format("'{}' is not a name (1 to {} letters, digits, '-', '_')", name, upstream_name_max);
    out.name = name;
    out.addresses.clear();
    std::string_view list = value.substr(eq + 1);
    for (;;) {
        const std::size_t comma = list.find(',');
        const std::string_view text = list.substr(0, comma);
        auto a = parse_upstream_address(text);
        if (!a)
            return fmt::format("'{}' is not HOST:PORT (numeric IPv4, [IPv6] or localhost) or unix:/PATH", text);
        if (std::any_of(out.addresses.begin(), out.addresses.end(),
                        [&](const upstream_address& b) { return b.text == a->text; }))
            return fmt::format("{}: address '{}' given twice", name, text);
        if (out.addresses.size() == max_upstream_addresses)
            return fmt::format("{}: more than {} addresses", name, max_upstream_addresses);
        out.addresses.push_back(std::move(*a));
        if (comma == std::string_view::npos)
            return {};
        list.remove_prefix(comma + 1);
    }
}

std::string parse_proxy_flag(std::string_view value, proxy_route& out)
{
    const std::size_t eq = value.rfind('=');
    if (eq == std::string_view::npos)
        return fmt::format("'{}' is not PREFIX=NAME", value);
    std::string_view prefix = value.substr(0, eq);
    const std::string_view name = value.substr(eq + 1);
    const bool slash = prefix.size() > 1 && prefix.back() == '/';
    if (slash)
        prefix.remove_suffix(1); // "/api/" and "/api" both mean /api and everything under it
    if (!valid_prefix(prefix) || (slash && prefix == "/"))
        return fmt::format("'{}' is not a path prefix (starts with '/', whole segments, nothing encoded)",
                           value.substr(0, eq));
    if (!valid_upstream_name(name))
        return fmt::format("'{}' is not an upstream name", name);
    out.prefix = prefix;
    out.upstream = name;
    return {};
}

std::string resolve_proxy(proxy_settings& p, bool root_served)
{
    if (p.upstreams.size() > max_upstreams)
        return fmt::format("--upstream: more than {} upstreams", max_upstreams);
    for (std::size_t i = 0; i < p.upstreams.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (p.upstreams[i].name == p.upstreams[j].name)
                return fmt::format("--upstream {}: given twice", p.upstreams[i].name);
    for (std::size_t i = 0; i < p.routes.size(); ++i) {
        proxy_route& r = p.routes[i];
        const int index = p.find(r.upstream);
        if (index < 0)
            return fmt::format("--proxy {}={}: no --upstream named '{}'", r.prefix, r.upstream, r.upstream);
        r.index = static_cast<std::uint32_t>(index);
        for (std::size_t j = 0; j < i; ++j)
            if (p.routes[j].prefix == r.prefix)
                return fmt::format("--proxy {}: prefix given twice", r.prefix);
        if (r.prefix == "/" && root_served)
            return fmt::format("--proxy /={}: --root serves every path under / already; proxy a narrower prefix, "
                               "or drop --root",
                               r.upstream);
    }
    for (const upstream_timeout_setting& t : p.timeouts) {
        const int index = p.find(t.upstream);
        if (index < 0)
            return fmt::format("{} {}: no --upstream named '{}'", timeout_flag(t.kind), t.upstream, t.upstream);
        upstream_timeouts& to = p.upstreams[std::size_t(index)].timeouts;
        (t.kind == upstream_timeout_kind::connect      ? to.connect_ms
         : t.kind == upstream_timeout_kind::first_byte ? to.first_byte_ms
                                                       : to.idle_ms) = t.ms;
    }
    return {};
}

} // namespace ringfork::ipc
