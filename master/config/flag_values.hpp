// Parsing one flag's value: numbers, seconds, intervals, sizes, addresses, with the
// refusal wording every flag shares. Owns turning text into values; leaves which field a
// value goes to, and the flag's name in the message, to the flag table.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/address.hpp"

namespace ringfork::master {

/// A plain decimal number.
[[nodiscard]] std::optional<unsigned long long> parse_uint(std::string_view v);
/// Seconds with an optional fraction ("2.5"), above 0 and at most a day, to whole milliseconds.
[[nodiscard]] std::optional<unsigned> parse_seconds_ms(std::string_view v);
/// An interval: "250ms", or seconds as "0.25" / "0.25s"; 10 ms to 60 s.
[[nodiscard]] std::optional<unsigned> parse_interval_ms(std::string_view v);
/// Bytes with an optional k/m/g suffix (powers of 1024).
[[nodiscard]] std::optional<unsigned long long> parse_size(std::string_view v);

// Setters: store the value and return "", or return why the value is refused (the text
// after "--flag: " in the error line).

/// A number from `lo` to `hi`: "'x' is not a number from lo to hi".
[[nodiscard]] std::string set_count(std::string_view v, unsigned lo, unsigned hi, unsigned& field);
/// Positive seconds: "'x' is not a positive number of seconds".
[[nodiscard]] std::string set_seconds_ms(std::string_view v, unsigned& ms);
[[nodiscard]] std::string set_seconds(std::string_view v, double& seconds);
/// A size of at least 64 bytes, at most `max`: "'x' is not a size in bytes (...)".
[[nodiscard]] std::string set_size(std::string_view v, unsigned long long max, unsigned long long& bytes);
/// ADDR:PORT: "'x' is not ADDR:PORT (IPv4, [IPv6] or *:PORT)".
[[nodiscard]] std::string parse_address_value(std::string_view v, net::address& out);
/// Any non-empty text; refused as "needs a `what`" ("needs a path").
[[nodiscard]] std::string set_text(std::string_view v, std::string_view what, std::string& field);

} // namespace ringfork::master
