// The master <-> worker channel protocol: fixed-size, versioned plain structs sent whole
// over one SOCK_SEQPACKET socketpair per slot. Owns the wire layout; leaves what to do
// with a message to each side.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ipc/fd_passing.hpp"
#include "ipc/stats.hpp"

namespace ringfork::ipc {

inline constexpr std::uint16_t protocol_version = 5; ///< 2: per-status counts, latency sum; 3: task counters; 4: upstreams; 5: per-address requests

enum class msg_type : std::uint8_t {
    // worker -> master
    ready = 1,     ///< Ring created, accept armed: the slot is serving.
    heartbeat = 2, ///< Every --stats-interval, and once more as the worker exits.
    // 3 and 4 (a final snapshot, "drained") were heartbeats by another name; not reused.
    upstream_drained = 5, ///< `upstream.addresses[0]`, removed by an upstream_set, has nothing in flight left.
    // master -> worker
    drain = 16,       ///< Stop accepting, finish in-flight work, close, exit.
    reopen_logs = 17, ///< Reopen log files (USR1); carries the newly opened access log, if any.
    retire = 18,      ///< The slot goes away: accept what its own listeners still queue, then drain.
    upstream_set = 19, ///< `upstream`'s current addresses: new requests go only to these.
};

/// An upstream's address set (upstream_set) or one of its addresses (upstream_drained).
struct upstream_note {
    std::uint32_t upstream = 0; ///< Index into worker_settings::proxy.upstreams.
    std::uint32_t count = 0;    ///< Addresses used below.
    /// Each NUL-terminated, in --upstream's syntax: HOST:PORT or unix:PATH.
    char addresses[max_upstream_addresses][upstream_address_text_max] = {};
};

/// Every message has this shape; unused fields are zero.
struct message {
    std::uint16_t version = protocol_version;
    msg_type type = msg_type::heartbeat;
    std::uint8_t reserved = 0;
    std::uint32_t slot = 0;
    std::uint32_t generation = 0;
    std::int32_t pid = 0;
    worker_stats stats{}; ///< Cumulative since the worker started (every worker -> master message).
    upstream_note upstream{}; ///< upstream_set, upstream_drained.
};

static_assert(std::is_trivially_copyable_v<message>);
static_assert(std::is_standard_layout_v<message>);

/// Sends one message; returns 0 or -errno. Never blocks longer than the socket allows.
[[nodiscard]] int send_message(int fd, const message& m) noexcept;

/// Sends one message with descriptor `fd` attached (SCM_RIGHTS); returns 0 or -errno.
[[nodiscard]] int send_message(int channel, const message& m, int fd) noexcept;

/// Receives one message; returns 1 on success, 0 on EOF, -errno on error, -EPROTO for a
/// message of the wrong size or version.
[[nodiscard]] int recv_message(int fd, message& m) noexcept;

/// Checks a received datagram's size and version.
[[nodiscard]] bool valid_message(const void* data, long size) noexcept;

/// One message being received with the descriptor it may carry, for recvmsg or
/// io_uring_prep_recvmsg (with MSG_CMSG_CLOEXEC). Neither copied nor moved.
class message_inbox {
public:
    message_inbox() noexcept : box_(&msg, sizeof msg) {}

    message msg{};
    /// The header for the next receive; a descriptor left untaken is closed.
    [[nodiscard]] msghdr* prepare() noexcept { return box_.prepare(); }
    /// After receiving `size` bytes: whether `msg` is a whole message of this version.
    [[nodiscard]] bool valid(long size) const noexcept { return valid_message(&msg, size); }
    /// The descriptor the message carried, or an empty one.
    [[nodiscard]] net::unique_fd take_fd() noexcept { return box_.take_fd(); }

private:
    datagram_inbox box_;
};
/// The upstream_set message for upstream `index` (its position among the --upstream
/// flags) with `addresses` in --upstream's syntax; false (and `error` set) when there are
/// more than max_upstream_addresses or one is not an address.
[[nodiscard]] bool make_upstream_set(std::uint32_t index, std::span<const std::string> addresses, message& out,
                                     std::string& error);
/// The addresses a note carries; false (and `error` set) for a malformed note.
[[nodiscard]] bool read_upstream_note(const upstream_note& note, std::vector<upstream_address>& out,
                                      std::string& error);

} // namespace ringfork::ipc
