// Route table: a trie of path segments.
#include "worker/router.hpp"

#include <array>

#include <fmt/format.h>

namespace ringfork::worker {

namespace {

constexpr std::size_t method_count = std::size_t(http::method::other) + 1;

constexpr std::pair<http::method, std::string_view> method_names[] = {
    {http::method::get, "GET"},         {http::method::head, "HEAD"},   {http::method::post, "POST"},
    {http::method::put, "PUT"},         {http::method::delete_, "DELETE"}, {http::method::options, "OPTIONS"},
    {http::method::patch, "PATCH"},     {http::method::trace, "TRACE"},
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
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
            return false;
    return true;
}

} // namespace

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

struct router::node {
    std::string literal;                        ///< This node's segment (literal children).
    std::vector<std::unique_ptr<node>> literals;
    std::unique_ptr<node> param;                ///< `{name}` child.
    std::string param_name;
    std::unique_ptr<node> rest;                 ///< `{*name}` child: a route only.
    std::string rest_name;
    std::array<handler*, method_count> handlers{};
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
        if (param && !seg.empty() && params.count < route_params::max) {
            params.items[params.count++] = {param_name, seg};
            if (const node* n = param->match(path, next, params))
                return n;
            --params.count;
        }
        if (rest && params.count < route_params::max) {
            params.items[params.count++] = {rest_name, path.substr(at)};
            return rest.get();
        }
        return nullptr;
    }
};

router::router() : root_(std::make_unique<node>()) {}
router::~router() = default;
router::router(router&&) noexcept = default;
router& router::operator=(router&&) noexcept = default;

std::string router::add(std::string_view pattern, method_mask methods, handler* h)
{
    if (pattern.empty() || pattern.front() != '/')
        return fmt::format("route '{}': a pattern starts with '/'", pattern);
    if (methods == 0 || h == nullptr)
        return fmt::format("route '{}': no method or no handler", pattern);
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
        if ((methods & bit(verb)) && n->handlers[std::size_t(verb)])
            return fmt::format("route {} '{}': a handler is set already", name, pattern);
    for (const auto& [verb, name] : method_names)
        if (methods & bit(verb))
            n->handlers[std::size_t(verb)] = h;
    n->allowed |= methods;
    n->pattern = pattern;
    n->allow = allow_header(n->allowed & bit(http::method::get) ? n->allowed | bit(http::method::head) : n->allowed);
    all_methods_ |= methods;
    allow_all_ = allow_header(all_methods_ | bit(http::method::options));
    return {};
}

std::string router::add_prefix(std::string_view prefix, method_mask methods, handler* h)
{
    if (!prefix.ends_with('/'))
        return fmt::format("prefix route '{}': a prefix ends with '/'", prefix);
    return add(fmt::format("{}{{*rest}}", prefix), methods, h);
}

bool router::find(std::string_view path, http::method m, match& out) const noexcept
{
    out.params.count = 0;
    if (path.empty() || path.front() != '/')
        return false;
    const node* n = root_->match(path, 1, out.params);
    if (!n)
        return false;
    handler* h = n->handlers[std::size_t(m)];
    if (!h && m == http::method::head)
        h = n->handlers[std::size_t(http::method::get)]; // the writer leaves the body out
    out.target = h;
    out.allow = &n->allow;
    return true;
}

} // namespace ringfork::worker
