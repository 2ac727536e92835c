// The `--workers auto` rule: CPUs this process may run on, capped by a cgroup v2 quota.
// Owns reading the affinity mask and cpu.max; leaves forking to the master.
#pragma once

#include <optional>
#include <string_view>

namespace ringfork::master {

/// Parses a cgroup v2 cpu.max line ("max 100000" or "150000 100000") into a CPU count
/// (1.5 here); nullopt for "max" (no quota) or malformed text.
[[nodiscard]] std::optional<double> parse_cpu_max(std::string_view text) noexcept;

/// Workers for `auto`: the affinity count, capped by ceil(quota), never below 1.
[[nodiscard]] unsigned workers_for(unsigned affinity_cpus, std::optional<double> quota_cpus) noexcept;

/// The lowest quota on this process's cgroup path (each ancestor's cpu.max counts), if any.
[[nodiscard]] std::optional<double> cgroup_cpu_quota();

/// Number of CPUs in this process's affinity mask.
[[nodiscard]] unsigned affinity_cpus() noexcept;

/// workers_for(affinity_cpus(), cgroup_cpu_quota()).
[[nodiscard]] unsigned auto_workers();

} // namespace ringfork::master
