// Route matching: a trie of path segments.
#include "net/route_table.hpp"

#include <array>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "net/ascii.hpp"

namespace ringfork::http {

namespace {

constexpr std::size_t method_count = std::size_t(method::other) + 1;

constexpr std::pair<method, std::string_view> method_names[] = {
    {method::get, "GET"},         {method::head, "HEAD"},   {method::post, "POST"},
    {method::put, "PUT"},         {method::delete_, "DELETE"}, {method::options, "OPTIONS"},
    {method::patch, "PATCH"},     {method::trace, "TRACE"},
};

/// The next segment of `path` from `at` (just after a '/'), and where the one after starts
/// (npos past the last).
std::string_view segment(std::string_view path, std::size_t at, std::size_t& next) noexcept
{
    const std::size_t slash = path.find('/', at);
    next = slash == std::string_view::npos ? std::string_view::npos : slash + 1;
    return path.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
}

bool valid_name(std::string_view name) noexcept
{
    if (name.empty())
        return false;
    for (char c : name)
        if (!(net::is_alnum(c) || c == '_'))
            return false;
    return true;
}

} // namespace

method method_named(std::string_view name) noexcept
{
    for (const auto& [verb, text] : method_names)
        if (text == name)
            return verb;
    return name == "CONNECT" ? method::connect : method::other;
}

std::string allow_header(method_mask m)
{
    std::string out;
    for (const auto& [verb, name] : method_names) {
        if (m & bit(verb)) {
            if (!out.empty())
                out += ", ";
            out += name;
        }
    }
    return out;
}

struct route_table::node {
    static std::array<std::uint32_t, method_count> make_targets() noexcept
    {
        std::array<std::uint32_t, method_count> t;
        t.fill(no_target);
        return t;
    }

    std::string literal;                        ///< This node's segment (literal children).
    std::vector<std::unique_ptr<node>> literals;
    std::unique_ptr<node> param;                ///< `{name}` child.
    std::string param_name;
    std::unique_ptr<node> rest;                 ///< `{*name}` child: a route only.
    std::string rest_name;
    std::array<std::uint32_t, method_count> targets = make_targets();
    method_mask allowed = 0;
    std::string allow;                          ///< For 405: the methods set here (and HEAD with GET).
    std::string pattern;

    [[nodiscard]] bool is_route() const noexcept { return allowed != 0; }

    /// Depth-first match of `path` from `at`, literal before parameter before catch-all.
    const node* match(std::string_view path, std::size_t at, route_params& params) const noexcept
    {
        if (at == std::string_view::npos)
            return is_route() ? this : nullptr;
        std::size_t next = 0;
        const std::string_view seg = segment(path, at, next);
        for (const auto& child : literals)
            if (child->literal == seg)
                if (const node* n = child->match(path, next, params))
                    return n;
        if (param && !seg.empty() && params.push(param_name, seg)) {
            if (const node* n = param->match(path, next, params))
                return n;
            --params.count;
        }
        if (rest && params.push(rest_name, path.substr(at)))
            return rest.get();
        return nullptr;
    }
};

route_table::route_table() : root_(std::make_unique<node>()) {}
route_table::~route_table() = default;
route_table::route_table(route_table&&) noexcept = default;
route_table& route_table::operator=(route_table&&) noexcept = default;

std::string route_table::add(std::string_view pattern, method_mask methods, std::uint32_t target)
{
    if (pattern.empty() || pattern.front() != '/')
        return fmt::format("route '{}': a pattern starts with '/'", pattern);
    if (methods == 0 || target == no_target)
        return fmt::format("route '{}': no method or no target", pattern);
    node* n = root_.get();
    std::size_t next = 1;
    while (next != std::string_view::npos) {
        const std::string_view seg = segment(pattern, next, next);
        if (seg.starts_with("{*") && seg.ends_with('}')) {
            const std::string_view name = seg.substr(2, seg.size() - 3);
            if (!valid_name(name) || next != std::string_view::npos)
                return fmt::format("route '{}': a catch-all is '{{*name}}' and comes last", pattern);
            if (n->rest && n->rest_name != name)
                return fmt::format("route '{}': catch-all named '{}' here already", pattern, n->rest_name);
            if (!n->rest)
                n->rest = std::make_unique<node>();
            n->rest_name = name;
            n = n->rest.get();
        } else if (seg.starts_with('{') && seg.ends_with('}')) {
            const std::string_view name = seg.substr(1, seg.size() - 2);
            if (!valid_name(name))
                return fmt::format("route '{}': a parameter name is letters, digits and '_'", pattern);
            if (n->param && n->param_name != name)
                return fmt::format("route '{}': parameter named '{}' here already", pattern, n->param_name);
            if (!n->param)
                n->param = std::make_unique<node>();
            n->param_name = name;
            n = n->param.get();
        } else if (seg.find_first_of("{}") != std::string_view::npos) {
            return fmt::format("route '{}': '{{' and '}}' only around a whole segment", pattern);
        } else {
            node* found = nullptr;
            for (auto& child : n->literals)
                if (child->literal == seg)
                    found = child.get();
            if (!found) {
                n->literals.push_back(std::make_unique<node>());
                found = n->literals.back().get();
                found->literal = seg;
            }
            n = found;
        }
    }
    for (const auto& [verb, name] : method_names)
        if ((methods & bit(verb)) && n->targets[std::size_t(verb)] != no_target)
            return fmt::format("route {} '{}': a handler is set already", name, pattern);
    for (const auto& [verb, name] : method_names)
        if (methods & bit(verb))
            n->targets[std::size_t(verb)] = target;
    if (n->allowed == 0 && pattern.find('{') == std::string_view::npos)
        exact_.push_back({std::string(pattern), n}); // a literal route: found without the walk
    n->allowed |= methods;
    n->pattern = pattern;
    n->allow = allow_header(n->allowed & bit(method::get) ? n->allowed | bit(method::head) : n->allowed);
    all_methods_ |= methods;
    allow_all_ = allow_header(all_methods_ | bit(method::options));
    return {};
}

bool route_table::find(std::string_view path, method m, match& out) const noexcept
{
    out.params.count = 0;
    if (path.empty() || path.front() != '/')
        return false;
    // A route whose pattern is all literal wins wherever its path matches it whole (the walk
    // would take its literal segments first and end there), so those are looked up first.
    const node* n = nullptr;
    for (const exact_route& e : exact_)
        if (e.path.size() == path.size() && std::memcmp(e.path.data(), path.data(), path.size()) == 0) {
            n = e.at;
            break;
        }
    if (!n)
        n = root_->match(path, 1, out.params);
    if (!n)
        return false;
    std::uint32_t t = n->targets[std::size_t(m)];
    if (t == no_target && m == method::head)
        t = n->targets[std::size_t(method::get)]; // the writer leaves the body out
    out.target = t;
    out.allow = &n->allow;
    return true;
}

} // namespace ringfork::http
