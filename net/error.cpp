// Formats system-call failures.
#include "net/error.hpp"

#include <cstring>

#include <fmt/format.h>

namespace ringfork::net {

std::string sys_error(std::string_view call, std::string_view object, int err)
{
    if (object.empty())
        return fmt::format("{}: {}", call, std::strerror(err));
    return fmt::format("{} {}: {}", call, object, std::strerror(err));
}

} // namespace ringfork::net
