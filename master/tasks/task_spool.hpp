// The task spool directory: creation, result files, per-job temp dirs and the TTL sweep.
// Owns file naming and removal; leaves what goes into the files to the runner and workers.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "ipc/task_protocol.hpp"

namespace ringfork::master {

/// Creates the spool directory and its tmp/ subdirectory with mode 0700 if missing; `error`
/// names the call, path and errno on failure.
[[nodiscard]] bool prepare_spool(const std::string& dir, std::string& error);
/// Writes "<spool>/<id>.res" atomically (tmp file + rename), so readers never see half of it.
[[nodiscard]] bool write_result_file(const std::string& spool, std::string_view id, const ipc::job_result& r,
                                     std::string& error);
/// Removes `path` and everything below it without following symlinks; false if anything stayed.
bool remove_tree(const std::string& path) noexcept;
/// Removes "*.out", "*.res", "*.res.tmp", "*.run" files and tmp/ directories last modified
/// more than `ttl_s` seconds before `now`; returns how many entries went.
std::size_t sweep_spool(const std::string& spool, unsigned ttl_s, std::time_t now);

} // namespace ringfork::master
