// Loopback ports of app instances.
#include "master/apps/loopback_port.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <iterator>

#include "net/error.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

namespace {

constexpr unsigned pick_attempts = 16;
constexpr std::string_view tcp_listen_state = "0A";

/// The next blank-separated field of `line`.
std::string_view next_field(std::string_view& line)
{
    const std::size_t start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        line = {};
        return {};
    }
    line.remove_prefix(start);
    const std::size_t end = line.find(' ');
    const std::string_view field = line.substr(0, end);
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
    return field;
}

bool parse_hex(std::string_view text, std::uint32_t& out)
{
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
    return !text.empty() && ec == std::errc{} && end == text.data() + text.size();
}

/// The kernel prints each 32-bit word of an address as the number it is in memory, so a
/// word compares equal to the network-order word of the address we mean.
bool takes_loopback(std::string_view address_hex, bool v6)
{
    const std::uint32_t loopback = htonl(INADDR_LOOPBACK);
    if (!v6) {
        std::uint32_t a = 0;
        return address_hex.size() == 8 && parse_hex(address_hex, a) && (a == 0 || a == loopback);
    }
    if (address_hex.size() != 32)
        return false;
    std::array<std::uint32_t, 4> w{};
    for (std::size_t i = 0; i < 4; ++i)
        if (!parse_hex(address_hex.substr(i * 8, 8), w[i]))
            return false;
    const bool any = w == std::array<std::uint32_t, 4>{};
    const bool mapped = w == std::array<std::uint32_t, 4>{0, 0, htonl(0xffff), loopback};
    return any || mapped;
}

} // namespace

std::optional<std::uint16_t> pick_free_port(std::span<const std::uint16_t> avoid, std::string& error)
{
    for (unsigned attempt = 0; attempt < pick_attempts; ++attempt) {
        net::unique_fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!fd) {
            error = net::sys_error("socket", "free port probe", errno);
            return std::nullopt;
        }
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof sa;
        if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0 ||
            ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
            error = net::sys_error("bind", "127.0.0.1:0", errno);
            return std::nullopt;
        }
        const std::uint16_t port = ntohs(sa.sin_port);
        if (std::find(avoid.begin(), avoid.end(), port) == avoid.end())
            return port;
    }
    error = "bind 127.0.0.1:0: the kernel kept choosing ports other instances use";
    return std::nullopt;
}

void add_loopback_listeners(std::string_view table, bool v6, std::uint16_t port, std::vector<uid_t>& uids)
{
    // "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ..."
    bool header = true;
    while (!table.empty()) {
        const std::size_t nl = table.find('\n');
        std::string_view line = table.substr(0, nl);
        table.remove_prefix(nl == std::string_view::npos ? table.size() : nl + 1);
        if (std::exchange(header, false))
            continue;
        (void)next_field(line); // sl
        const std::string_view local = next_field(line);
        (void)next_field(line); // rem_address
        const std::string_view state = next_field(line);
        for (int skip = 0; skip < 3; ++skip)
            (void)next_field(line);
        const std::string_view uid_text = next_field(line);
        const std::size_t colon = local.rfind(':');
        std::uint32_t local_port = 0;
        std::uint32_t uid = 0;
        if (state != tcp_listen_state || colon == std::string_view::npos ||
            !parse_hex(local.substr(colon + 1), local_port) || local_port != port ||
            !takes_loopback(local.substr(0, colon), v6))
            continue;
        const auto [end, ec] = std::from_chars(uid_text.data(), uid_text.data() + uid_text.size(), uid);
        if (ec == std::errc{} && end == uid_text.data() + uid_text.size())
            uids.push_back(static_cast<uid_t>(uid));
    }
}

port_listeners loopback_listeners(std::uint16_t port)
{
    port_listeners out;
    for (const auto& [path, v6] : {std::pair{"/proc/net/tcp", false}, std::pair{"/proc/net/tcp6", true}}) {
        std::ifstream f(path);
        if (!f) {
            out.readable = out.readable && v6; // a kernel without IPv6 has no tcp6 table
            continue;
        }
        const std::string text{std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
        add_loopback_listeners(text, v6, port, out.uids);
    }
    return out;
}

} // namespace ringfork::master
