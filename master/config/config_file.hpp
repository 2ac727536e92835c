// The TOML config file (--config FILE): the same keys as the long flags, without "--".
// Owns reading TOML into flag-shaped arguments; leaves their meaning to options.cpp,
// so a setting behaves the same whether it comes from a flag or from the file.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace ringfork::master {

/// Reads `path` and returns its settings as arguments: `workers = 4` → {"--workers", "4"},
/// `demo = true` → {"--demo"}, `listen = ["a", "b"]` → {"--listen", "a", "--listen", "b"};
/// a false boolean adds nothing. On a TOML error or a value of another kind (tables,
/// dates), returns nullopt and sets `error` to one line with the file and position.
[[nodiscard]] std::optional<std::vector<std::string>> config_arguments(const std::string& path, std::string& error);

/// The same for TOML text already in memory (`name` is used in messages).
[[nodiscard]] std::optional<std::vector<std::string>> config_arguments_from(std::string_view text,
                                                                           const std::string& name,
                                                                           std::string& error);

} // namespace ringfork::master
