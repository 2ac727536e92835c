// Records on a job socket.
#include "ipc/task_protocol.hpp"

#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>

namespace ringfork::ipc {

std::string random_hex(std::size_t bytes)
{
    unsigned char raw[16];
    bytes = bytes < sizeof raw ? bytes : sizeof raw;
    std::size_t got = 0;
    while (got < bytes) {
        const ssize_t n = ::getrandom(raw + got, bytes - got, 0);
        if (n > 0)
            got += static_cast<std::size_t>(n);
        else if (errno != EINTR)
            break; // not on a booted kernel: a short string is still refused as a job id
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < got; ++i) {
        s += hex[raw[i] >> 4];
        s += hex[raw[i] & 15];
    }
    return s;
}

std::optional<record_view> parse_record(std::span<const char> packet) noexcept
{
    record_head head;
    if (packet.size() < sizeof head)
        return std::nullopt;
    std::memcpy(&head, packet.data(), sizeof head);
    if (head.version != task_protocol_version || head.length != packet.size() - sizeof head ||
        head.length > record_bytes_max + sizeof(result_record))
        return std::nullopt;
    return record_view{head.type, packet.subspan(sizeof head)};
}

namespace {

int send_parts(int fd, iovec* iov, std::size_t count) noexcept
{
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = count;
    for (;;) {
        if (::sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

} // namespace

int send_record(int fd, record_type type, std::span<const char> payload) noexcept
{
    record_head head;
    head.type = type;
    head.length = static_cast<std::uint32_t>(payload.size());
    iovec iov[2] = {{&head, sizeof head}, {const_cast<char*>(payload.data()), payload.size()}};
    return send_parts(fd, iov, payload.empty() ? 1 : 2);
}

int send_output_record(int fd, std::uint64_t offset, std::span<const char> bytes) noexcept
{
    record_head head;
    head.type = record_type::output;
    output_head out{offset};
    head.length = static_cast<std::uint32_t>(sizeof out + bytes.size());
    iovec iov[3] = {{&head, sizeof head}, {&out, sizeof out}, {const_cast<char*>(bytes.data()), bytes.size()}};
    return send_parts(fd, iov, bytes.empty() ? 2 : 3);
}

} // namespace ringfork::ipc
