// Listen addresses: parsing "HOST:PORT" / "[V6]:PORT" and formatting them back.
// Owns the text form; leaves sockets to net/socket.
#pragma once

#include <sys/socket.h>

#include <optional>
#include <string>
#include <string_view>

namespace ringfork::net {

/// A resolved IPv4 or IPv6 socket address.
struct address {
    sockaddr_storage storage{};
    socklen_t length = 0;

    /// The family, AF_INET or AF_INET6.
    [[nodiscard]] int family() const noexcept { return storage.ss_family; }
    /// The port in host order.
    [[nodiscard]] unsigned port() const noexcept;
    /// "127.0.0.1:8080" or "[::1]:8080".
    [[nodiscard]] std::string to_string() const;
    [[nodiscard]] bool is_loopback() const noexcept;
};

/// Parses a numeric "IPv4:PORT", "[IPv6]:PORT", ":PORT" or "*:PORT" (any address);
/// "localhost:PORT" means 127.0.0.1. Returns nullopt on anything else.
[[nodiscard]] std::optional<address> parse_address(std::string_view text);

/// The locally bound address of a socket.
[[nodiscard]] std::optional<address> local_address(int fd);

} // namespace ringfork::net
