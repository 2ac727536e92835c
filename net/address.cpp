// Listen addresses: parsing and formatting.
// Only numeric forms are accepted, so start-up never waits on DNS.
#include "net/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace ringfork::net {

namespace {

std::optional<unsigned> parse_port(std::string_view text)
{
    unsigned port = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || port > 65535)
        return std::nullopt;
    return port;
}

} // namespace

unsigned address::port() const noexcept
{
    if (family() == AF_INET6)
        return ntohs(reinterpret_cast<const sockaddr_in6&>(storage).sin6_port);
    return ntohs(reinterpret_cast<const sockaddr_in&>(storage).sin_port);
}

std::string address::to_string() const
{
    char host[INET6_ADDRSTRLEN] = {};
    if (family() == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(storage).sin6_addr, host, sizeof host);
        return fmt::format("[{}]:{}", host, port());
    }
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(storage).sin_addr, host, sizeof host);
    return fmt::format("{}:{}", host, port());
}

bool address::is_loopback() const noexcept
{
    if (family() == AF_INET6) {
        const auto& a = reinterpret_cast<const sockaddr_in6&>(storage).sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(&a);
    }
    const auto& a = reinterpret_cast<const sockaddr_in&>(storage).sin_addr;
    return (ntohl(a.s_addr) >> 24) == 127;
}

std::optional<address> parse_address(std::string_view text)
{
    address out;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find("]:");
        if (close == std::string_view::npos)
            return std::nullopt;
        std::string host(text.substr(1, close - 1));
        auto port = parse_port(text.substr(close + 2));
        auto& sa = reinterpret_cast<sockaddr_in6&>(out.storage);
        if (!port || inet_pton(AF_INET6, host.c_str(), &sa.sin6_addr) != 1)
            return std::nullopt;
        sa.sin6_family = AF_INET6;
        sa.sin6_port = htons(static_cast<uint16_t>(*port));
        out.length = sizeof(sockaddr_in6);
        return out;
    }
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos)
        return std::nullopt;
    std::string host(text.substr(0, colon));
    auto port = parse_port(text.substr(colon + 1));
    if (!port)
        return std::nullopt;
    if (host.empty() || host == "*")
        host = "0.0.0.0";
    else if (host == "localhost")
        host = "127.0.0.1";
    auto& sa = reinterpret_cast<sockaddr_in&>(out.storage);
    if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1)
        return std::nullopt;
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(*port));
    out.length = sizeof(sockaddr_in);
    return out;
}

std::optional<address> local_address(int fd)
{
    address out;
    out.length = sizeof out.storage;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&out.storage), &out.length) != 0)
        return std::nullopt;
    return out;
}

peer_ip peer_ip::of_socket(int fd) noexcept
{
    peer_ip p;
    sockaddr_storage peer{};
    socklen_t len = sizeof peer;
    if (fd < 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0)
        return p;
    if (peer.ss_family == AF_INET) {
        p.family = AF_INET;
        std::memcpy(p.bytes, &reinterpret_cast<const sockaddr_in&>(peer).sin_addr, 4);
    } else if (peer.ss_family == AF_INET6) {
        p.family = AF_INET6;
        std::memcpy(p.bytes, &reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr, 16);
    }
    return p;
}

std::size_t peer_ip::format(char (&out)[peer_text_max]) const noexcept
{
    if (family == 0 || inet_ntop(family, bytes, out, peer_text_max) == nullptr)
        return 0;
    return std::strlen(out);
}

} // namespace ringfork::net
