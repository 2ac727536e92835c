// The flag table: every command-line flag declared once, with its value placeholder, its
// help line and the setter that applies it. The usage text, argv parsing (--flag value and
// --flag=value), the TOML config keys (a key is a long flag's name without "--") and -t all
// come from it. Owns the list of flags; leaves tokenising and defaults to options.cpp.
//
// To add a flag: add one flag_spec to its group in flag_table.cpp (or a new group), with a
// setter that parses the value into `options` and returns "" or why the value is refused
// (the flag_values.hpp helpers word the common cases). Nothing else needs to change.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "master/config/options.hpp"

namespace ringfork::master {

/// Stores a flag's value in `out`; returns "" or why the value is refused, the text that
/// follows "--flag: " in the error line. Switches get an empty value.
using flag_setter = std::string (*)(options& out, std::string_view value);

/// One flag.
struct flag_spec {
    std::string_view name;             ///< "--workers", or a short flag ("-t").
    std::string_view value;            ///< Placeholder in the usage ("N|auto"); empty: a switch.
    std::string_view help;             ///< Its line in the usage text.
    flag_setter set = nullptr;         ///< Null for flags that only ask for an action.
    action asks = action::serve;       ///< --help, --version and -t ask for another action.
    std::string_view alias = {};       ///< Another spelling ("-h" for --help).
    /// A repeatable flag whose values on the command line replace the config file's instead
    /// of adding to them (--listen): clears the list before the command line's first one.
    void (*replace)(options& out) = nullptr;
};

/// A titled section of the usage text; an empty title is left out of the usage.
struct flag_group {
    std::string_view title;
    std::span<const flag_spec> flags;
};

/// Every group, in usage order.
[[nodiscard]] std::span<const flag_group> flag_groups() noexcept;

/// The flag spelled `name` ("--workers", "-t", "-h"), or null.
[[nodiscard]] const flag_spec* find_flag(std::string_view name) noexcept;

} // namespace ringfork::master
