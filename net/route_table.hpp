// Route matching by method and path pattern, with no idea what a route does: a trie of
// '/'-separated segments (literal, {name}, a last {*name}) mapping to an opaque target
// number. Owns pattern syntax, precedence and the Allow values; leaves handlers to whoever
// owns the targets (the worker's router; the master checks patterns with it at start).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_parser.hpp"

namespace ringfork::http {

/// A set of methods, one bit per http::method.
using method_mask = std::uint16_t;

[[nodiscard]] constexpr method_mask bit(method m) noexcept { return method_mask(1u << unsigned(m)); }
inline constexpr method_mask get_head = bit(method::get) | bit(method::head);

/// "GET, HEAD, POST" for a mask.
[[nodiscard]] std::string allow_header(method_mask m);
/// The method named `name` ("GET"), or method::other.
[[nodiscard]] method method_named(std::string_view name) noexcept;

/// A route's named parameters, as matched: views into the path matched. Only the first
/// `count` items are set: the rest are left uninitialised, so matching a route without
/// parameters costs nothing for them.
struct route_params {
    static constexpr std::size_t max = 16;
    struct item { ///< Trivial, so the array is not cleared on every request.
        const char* name;
        std::size_t name_size;
        const char* value;
        std::size_t value_size;
    };
    item items[max];
    std::size_t count = 0;

    /// Appends one parameter; false when `max` are set already.
    bool push(std::string_view name, std::string_view value) noexcept
    {
        if (count == max)
            return false;
        items[count++] = {name.data(), name.size(), value.data(), value.size()};
        return true;
    }
    /// The value of parameter `name`, or an empty view.
    [[nodiscard]] std::string_view get(std::string_view name) const noexcept
    {
        for (std::size_t i = 0; i < count; ++i)
            if (std::string_view(items[i].name, items[i].name_size) == name)
                return {items[i].value, items[i].value_size};
        return {};
    }
};

/// Patterns are '/'-separated segments, each a literal, `{name}` (one non-empty segment)
/// or, last only, `{*name}` (the rest of the path, maybe empty). At each segment a literal
/// beats a parameter, which beats a catch-all; a route that fails further on falls back to
/// the next candidate. HEAD is answered by the GET target when no HEAD target is set.
class route_table {
public:
    static constexpr std::uint32_t no_target = ~0u;

    /// What a path matched: the target for the method (no_target when the path matched but
    /// the method is not allowed: 405), the Allow value and the parameters.
    struct match {
        std::uint32_t target = no_target;
        const std::string* allow = nullptr;
        route_params params;
    };

    route_table();
    ~route_table();
    route_table(route_table&&) noexcept;
    route_table& operator=(route_table&&) noexcept;

    /// Adds `target` for every method in `methods` at `pattern`; "" on success, else why the
    /// pattern or the method is refused (bad syntax, or a target already set).
    [[nodiscard]] std::string add(std::string_view pattern, method_mask methods, std::uint32_t target);
    /// Matches a normalised path; false when nothing matches (404). Writes `out.target`,
    /// `out.allow` and the parameters only (a caller's derived match keeps its own fields).
    [[nodiscard]] bool find(std::string_view path, method m, match& out) const noexcept;
    /// Allow value for OPTIONS *: every method some route accepts, plus OPTIONS.
    [[nodiscard]] const std::string& allow_all() const noexcept { return allow_all_; }

private:
    struct node;
    struct exact_route {
        std::string path;
        const node* at;
    };

    std::unique_ptr<node> root_;
    std::vector<exact_route> exact_; ///< Routes with literal segments only.
    std::string allow_all_ = "OPTIONS";
    method_mask all_methods_ = 0;
};

} // namespace ringfork::http
