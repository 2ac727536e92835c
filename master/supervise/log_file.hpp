// The log files the master opens for its workers (--access-log): opened here, as the
// master's user, and handed to every worker, at fork and again after each reopen (USR1),
// so workers running as --user need no permission on the log's path. Owns opening the
// file safely; leaves writing it to the workers (worker/access_log.hpp).
#pragma once

#include <string>

#include "net/fd.hpp"

namespace ringfork::master {

/// Opens `path` for appending, creating it with mode 0644. The open never blocks
/// (O_NONBLOCK, so a FIFO cannot stall the master) and never follows a symlink at `path`
/// unless `follow_symlinks`; what it opens must be a regular file with one link (a hard
/// link planted to another file is refused). On failure returns an empty fd and sets
/// `error` to one line naming the call and the path.
[[nodiscard]] net::unique_fd open_access_log(const std::string& path, bool follow_symlinks, std::string& error);

} // namespace ringfork::master
