// The loopback ports app instances listen on: choosing a free one for a new instance, and
// checking, once something answers on it, that the listener belongs to the instance's
// user and not to another local user who bound the port first. Owns reading the kernel's
// socket tables; leaves what to do about a foreign listener to the instance.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ringfork::master {

/// A port on 127.0.0.1 that was free a moment ago: the kernel picks one for a socket bound
/// to port 0, which is closed again. Ports in `avoid` (other instances', old or new) are
/// not taken; after 16 clashes, or when binding fails, nullopt with `error` set.
[[nodiscard]] std::optional<std::uint16_t> pick_free_port(std::span<const std::uint16_t> avoid, std::string& error);

/// Who listens on a port where connections to 127.0.0.1 arrive.
struct port_listeners {
    std::vector<uid_t> uids; ///< The owner of each listening socket (several with SO_REUSEPORT).
    bool readable = true;    ///< False: /proc/net/tcp could not be read; nothing is known.
};

/// The listening sockets on `port` that take connections to 127.0.0.1 (bound to it, to
/// 0.0.0.0, to :: or to ::ffff:127.0.0.1), from /proc/net/tcp and /proc/net/tcp6.
[[nodiscard]] port_listeners loopback_listeners(std::uint16_t port);

/// The same from one table's text: `table` is /proc/net/tcp (`v6` false) or tcp6's.
void add_loopback_listeners(std::string_view table, bool v6, std::uint16_t port, std::vector<uid_t>& uids);

} // namespace ringfork::master
