// Unix-domain socket addresses: a filesystem path or an abstract name in a sockaddr_un.
// Owns building one and its length; leaves sockets, and what a path may be, to the callers.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>

#include <cstddef>
#include <optional>
#include <string_view>

namespace ringfork::net {

/// The longest path a sockaddr_un holds (sun_path without its NUL).
inline constexpr std::size_t unix_path_max = sizeof(sockaddr_un::sun_path) - 1;

/// A Unix socket address and the length to pass with it.
struct unix_address {
    sockaddr_un storage{};
    /// Up to and including a path's NUL; for an abstract name, its leading NUL and the name.
    socklen_t length = 0;

    /// The address for bind, connect and sendto.
    [[nodiscard]] const sockaddr* get() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
};

/// The address of `path`; nullopt when it is empty, holds a NUL or is longer than
/// unix_path_max.
[[nodiscard]] std::optional<unix_address> make_unix_address(std::string_view path) noexcept;

/// The address of `name` in Linux's abstract namespace (no file; every byte counts, NULs
/// too); nullopt when it is empty or longer than unix_path_max.
[[nodiscard]] std::optional<unix_address> make_abstract_unix_address(std::string_view name) noexcept;

} // namespace ringfork::net
