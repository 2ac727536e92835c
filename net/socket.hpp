// Listening and accepted TCP sockets: creation and the options the server relies on.
// Owns socket set-up; leaves accepting and I/O to the worker's ring.
#pragma once

#include <string>

#include "net/address.hpp"
#include "net/fd.hpp"

namespace ringfork::net {

struct listen_options {
    bool reuseport = true; ///< SO_REUSEPORT, so every worker slot gets its own queue.
    int backlog = 4096;
};

/// Creates, configures, binds and listens. TCP_NODELAY is set on the listener, which
/// Linux copies to every accepted socket, so accepting costs no extra system call. On failure returns an empty fd and sets
/// `error` to one line naming the call, the address and the errno.
[[nodiscard]] unique_fd make_listener(const address& addr, const listen_options& opts, std::string& error);

/// TCP_DEFER_ACCEPT on a listener: a connection is handed to accept only once its first
/// bytes arrived, or after about `seconds` without any (0 turns it off). Sets `error` on failure.
[[nodiscard]] bool set_defer_accept(int fd, unsigned seconds, std::string& error);


} // namespace ringfork::net
