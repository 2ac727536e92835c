// Listen addresses: parsing "HOST:PORT" / "[V6]:PORT" and formatting them back.
// Owns the text form; leaves sockets to net/socket.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
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

/// Room for a peer's IP address as text (an IPv6 address with its NUL).
inline constexpr std::size_t peer_text_max = 46;

/// A peer's IP address without its port, in 17 bytes: what a connection keeps so a log
/// line can name a client that has already gone.
struct peer_ip {
    std::uint8_t family = 0; ///< 0 (unknown), AF_INET or AF_INET6.
    std::uint8_t bytes[16] = {};

    /// The address of `fd`'s peer; unknown for a Unix socket or a peer that is gone.
    [[nodiscard]] static peer_ip of_socket(int fd) noexcept;
    /// Writes the address as text ("127.0.0.1", "::1") and returns its length; 0 if unknown.
    [[nodiscard]] std::size_t format(char (&out)[peer_text_max]) const noexcept;
};

} // namespace ringfork::net
