// Route table.
#include "worker/router.hpp"

#include <algorithm>

namespace ringfork::worker {

std::string allow_header(method_mask m)
{
    static constexpr std::pair<http::method, std::string_view> names[] = {
        {http::method::get, "GET"},         {http::method::head, "HEAD"},   {http::method::post, "POST"},
        {http::method::put, "PUT"},         {http::method::delete_, "DELETE"}, {http::method::options, "OPTIONS"},
        {http::method::patch, "PATCH"},
    };
    std::string out;
    for (const auto& [verb, name] : names) {
        if (m & bit(verb)) {
            if (!out.empty())
                out += ", ";
            out += name;
        }
    }
    return out;
}

namespace {

// Exact routes first; among prefixes the longest first, so find() stops at the best match.
bool route_order(const router::route& a, const router::route& b)
{
    if (a.prefix != b.prefix)
        return !a.prefix;
    return a.prefix && a.path.size() > b.path.size();
}

} // namespace

void router::add(std::string_view path, method_mask allowed, handler* h)
{
    insert({std::string(path), false, allowed, allow_header(allowed), h});
}

void router::add_prefix(std::string_view prefix, method_mask allowed, handler* h)
{
    insert({std::string(prefix), true, allowed, allow_header(allowed), h});
}

void router::insert(route r)
{
    all_methods_ |= r.allowed;
    allow_all_ = allow_header(all_methods_ | bit(http::method::options));
    routes_.push_back(std::move(r));
    std::stable_sort(routes_.begin(), routes_.end(), route_order);
}

const router::route* router::find(std::string_view path) const noexcept
{
    for (const auto& r : routes_) {
        if (!r.prefix ? path == r.path : path.starts_with(r.path))
            return &r;
    }
    return nullptr;
}

} // namespace ringfork::worker
