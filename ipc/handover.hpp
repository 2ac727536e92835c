// The old master <-> new master handover during a binary upgrade (USR2): one SOCK_SEQPACKET
// pair, inherited by the new master across exec. Owns the message layout; leaves the
// upgrade's steps to master/upgrade.cpp.
#pragma once

#include <cstdint>
#include <type_traits>

#include "ipc/stats.hpp"

namespace ringfork::ipc {

inline constexpr std::uint16_t handover_version = 3; ///< 2: per-upstream counters in the totals; 3: per-address requests

enum class handover_type : std::uint8_t {
    totals = 1, ///< old -> new: the old master's totals so far (repeated, then final at exit)
    ready = 2,  ///< new -> old: every new worker is ready; the old master may drain and go
};

struct handover_message {
    std::uint16_t version = handover_version;
    handover_type type = handover_type::totals;
    std::uint8_t reserved = 0;
    std::int32_t pid = 0;
    std::uint64_t reloads = 0;
    std::uint64_t upgrades = 0;
    std::uint64_t respawns = 0;
    worker_stats totals{}; ///< Exited plus live workers of the sender (gauges zeroed).
};

static_assert(std::is_trivially_copyable_v<handover_message>);

} // namespace ringfork::ipc
