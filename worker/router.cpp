// The worker's route table.
#include "worker/router.hpp"

#include <fmt/format.h>

namespace ringfork::worker {

std::string router::add(std::string_view pattern, method_mask methods, handler* h)
{
    if (h == nullptr)
        return fmt::format("route '{}': no handler", pattern);
    std::string refused = table_.add(pattern, methods, static_cast<std::uint32_t>(handlers_.size()));
    if (refused.empty())
        handlers_.push_back(h);
    return refused;
}

std::string router::add_prefix(std::string_view prefix, method_mask methods, handler* h)
{
    if (!prefix.ends_with('/'))
        return fmt::format("prefix route '{}': a prefix ends with '/'", prefix);
    return add(fmt::format("{}{{*rest}}", prefix), methods, h);
}

bool router::find(std::string_view path, http::method m, match& out) const noexcept
{
    if (!table_.find(path, m, out))
        return false;
    out.handler_for_method = out.target == http::route_table::no_target ? nullptr : handlers_[out.target];
    return true;
}

} // namespace ringfork::worker
