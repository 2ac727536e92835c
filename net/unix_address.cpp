// Unix-domain socket addresses.
#include "net/unix_address.hpp"

#include <cstring>

namespace ringfork::net {

std::optional<unix_address> make_unix_address(std::string_view path) noexcept
{
    if (path.empty() || path.size() > unix_path_max || path.find('\0') != std::string_view::npos)
        return std::nullopt;
    unix_address out;
    out.storage.sun_family = AF_UNIX;
    std::memcpy(out.storage.sun_path, path.data(), path.size());
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
    return out;
}

std::optional<unix_address> make_abstract_unix_address(std::string_view name) noexcept
{
    if (name.empty() || name.size() > unix_path_max)
        return std::nullopt;
    unix_address out;
    out.storage.sun_family = AF_UNIX;
    std::memcpy(out.storage.sun_path + 1, name.data(), name.size()); // sun_path[0] stays NUL
    out.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    return out;
}

} // namespace ringfork::net
