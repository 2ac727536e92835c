// The names the stats views give to counters' slots: a status class, a tracked status, an
// upstream failure's cause. Owns those names; leaves counting to ipc/stats.hpp.
#pragma once

#include <cstddef>
#include <string>

#include "ipc/stats.hpp"

namespace ringfork::master::labels {

/// "0xx" to "5xx", by status class (the index of responses_by_class).
inline constexpr const char* class_names[6] = {"0xx", "1xx", "2xx", "3xx", "4xx", "5xx"};

/// The cause of each ipc::upstream_failure, in its order.
inline constexpr const char* failure_names[ipc::upstream_failure_kinds] = {
    "connect", "connect_timeout", "closed", "first_byte_timeout", "idle_timeout",
    "malformed", "too_large", "truncated", "no_address", "capacity"};

/// The status a responses_by_status slot counts ("404"), or "other" for the last one.
[[nodiscard]] inline std::string status_name(std::size_t slot)
{
    return slot < ipc::tracked_statuses.size() ? std::to_string(ipc::tracked_statuses[slot]) : "other";
}

} // namespace ringfork::master::labels
