// The master's pid file (--pid-file): written atomically without ever opening a name
// someone else could have planted, read back without following a link or blocking on a
// FIFO. Owns the file's contents and the way it is replaced; leaves when to write it to
// the supervisor (at start, or once an upgraded master is ready).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

namespace ringfork::master {

/// Writes "PID\n" to `path`: into a new file with a random name in the same directory
/// (mkostemp: O_CREAT|O_EXCL, so a planted symlink or FIFO is never opened), checked with
/// fstat to be a regular file, made 0644, then renamed over `path` (which replaces a
/// symlink there rather than following it). On failure sets `error` to one line naming the
/// call and the path, and removes the temporary.
[[nodiscard]] bool write_pid_file(const std::string& path, pid_t pid, std::string& error);

/// The pid in `path`, read with O_NOFOLLOW|O_NONBLOCK from a regular file; nullopt when
/// there is none, or it is not a regular file or holds no number.
[[nodiscard]] std::optional<pid_t> read_pid_file(const std::string& path);

/// Removes `path` if it holds `pid` (not a successor's).
void remove_pid_file(const std::string& path, pid_t pid);

} // namespace ringfork::master
