// Channel message send/receive.
#include "ipc/messages.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace ringfork::ipc {

int send_message(int fd, const message& m) noexcept
{
    for (;;) {
        if (::send(fd, &m, sizeof m, MSG_NOSIGNAL | MSG_DONTWAIT) == static_cast<ssize_t>(sizeof m))
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

int send_message(int channel, const message& m, int fd) noexcept
{
    return send_with_fd(channel, &m, sizeof m, fd);
}

bool valid_message(const void* data, long size) noexcept
{
    return size == static_cast<long>(sizeof(message)) &&
           static_cast<const message*>(data)->version == protocol_version;
}

int recv_message(int fd, message& m) noexcept
{
    for (;;) {
        const ssize_t n = ::recv(fd, &m, sizeof m, MSG_DONTWAIT);
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        return valid_message(&m, n) ? 1 : -EPROTO;
    }
}

bool make_upstream_set(std::uint32_t index, std::span<const std::string> addresses, message& out, std::string& error)
{
    out = message{};
    out.type = msg_type::upstream_set;
    out.upstream.upstream = index;
    if (addresses.size() > max_upstream_addresses) {
        error = fmt::format("upstream_set: {} addresses, at most {}", addresses.size(), max_upstream_addresses);
        return false;
    }
    for (const std::string& a : addresses) {
        if (a.size() >= upstream_address_text_max || !parse_upstream_address(a)) {
            error = fmt::format("upstream_set: '{}' is not HOST:PORT or unix:PATH", a);
            return false;
        }
        std::memcpy(out.upstream.addresses[out.upstream.count++], a.data(), a.size());
    }
    return true;
}

bool read_upstream_note(const upstream_note& note, std::vector<upstream_address>& out, std::string& error)
{
    out.clear();
    if (note.count > max_upstream_addresses) {
        error = fmt::format("upstream note with {} addresses", note.count);
        return false;
    }
    for (std::uint32_t i = 0; i < note.count; ++i) {
        const char* text = note.addresses[i];
        const std::size_t n = strnlen(text, upstream_address_text_max);
        auto a = n < upstream_address_text_max ? parse_upstream_address({text, n}) : std::nullopt;
        if (!a) {
            error = fmt::format("upstream note: address {} is not HOST:PORT or unix:PATH", i);
            return false;
        }
        out.push_back(std::move(*a));
    }
    return true;
}

} // namespace ringfork::ipc
