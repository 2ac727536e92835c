// Built-in tasks computed in the job child without exec: `prime` and `fib`, both deliberately
// CPU-heavy. Owns their arithmetic, arguments and output text; leaves isolation to the runner.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ringfork::master {

/// Largest n whose Fibonacci number fits in 63 bits.
inline constexpr unsigned fib_max_n = 92;

/// Result of trial division: `divisor` is the smallest factor above 1, 0 when there is none.
struct prime_check {
    bool prime = false;
    std::uint64_t divisor = 0;
};

/// True for a name run_builtin_task knows ("prime", "fib").
[[nodiscard]] bool is_builtin_task(std::string_view name) noexcept;
/// Trial division by 2, then by every odd number up to sqrt(n): seconds for n near 10^18.
[[nodiscard]] prime_check check_prime(std::uint64_t n) noexcept;
/// Fibonacci by plain exponential recursion (fib(0) = 0, fib(1) = 1).
[[nodiscard]] std::uint64_t naive_fib(unsigned n) noexcept;
/// The value of `key` in a query string ("a=1&n=42"), undecoded; nullopt when absent.
[[nodiscard]] std::optional<std::string_view> query_value(std::string_view query, std::string_view key) noexcept;
/// Runs builtin `name` with the request's query string: the answer goes to `out_fd`, a bad
/// or missing argument to `err_fd`. Returns the exit code (0, or 2 for bad arguments).
/// Allocates nothing, so it runs safely in a forked child under a tight RLIMIT_AS.
[[nodiscard]] int run_builtin_task(std::string_view name, std::string_view args, int out_fd, int err_fd) noexcept;

} // namespace ringfork::master
