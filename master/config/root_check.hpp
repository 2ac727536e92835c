// Start-up check for --root: the directory opens, and openat2 confines lookups beneath it.
// Owns refusing to start without RESOLVE_BENEATH; leaves serving files to the workers.
#pragma once

#include <string>

namespace ringfork::master {

/// True when `dir` is a directory this process can open and openat2 with RESOLVE_BENEATH
/// works on this kernel (Linux 5.6+); otherwise `error` names the call, the path and errno.
[[nodiscard]] bool check_root(const std::string& dir, std::string& error);

} // namespace ringfork::master
