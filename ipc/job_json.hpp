// A job's state as JSON, the one rendering every reader gets (GET /tasks/jobs/ID, ctl).
// Owns the field names; leaves escaping text to json_text and transport to the callers.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ipc/spool.hpp"

namespace ringfork::ipc {

/// {"id":…,"task":…,"state":…,"exit_code":N or "signal":N (once ended),"elapsed_ms":N
/// (so far, while it runs: `now_unix_ms` is the wall clock),"output_bytes":N,"progress":…,
/// "reason":…}
[[nodiscard]] std::string job_state_json(std::string_view id, const job_state_record& r, std::uint64_t now_unix_ms);

} // namespace ringfork::ipc
