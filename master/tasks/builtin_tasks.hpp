// Built-in function tasks: `prime` and `fib`, both deliberately CPU-heavy. Owns their
// arithmetic, arguments and output text; leaves where they run to the runner.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "net/query.hpp"

namespace ringfork::master {

class task_context;

/// Largest n whose Fibonacci number fits in 63 bits.
inline constexpr unsigned fib_max_n = 92;

/// Result of trial division: `divisor` is the smallest factor above 1, 0 when there is none.
struct prime_check {
    bool prime = false;
    std::uint64_t divisor = 0;
};

/// Trial division by 2, then by every odd number up to sqrt(n): seconds for n near 10^18.
[[nodiscard]] prime_check check_prime(std::uint64_t n) noexcept;
/// Fibonacci by plain exponential recursion (fib(0) = 0, fib(1) = 1).
[[nodiscard]] std::uint64_t naive_fib(unsigned n) noexcept;
/// The value of `key` in a query string ("a=1&n=42"), undecoded; nullopt when absent.
using net::query_value;
/// builtin:prime: "N is prime" or "N is not prime: divisible by D" for the argument n;
/// exit code 2 and a line on stderr for a missing or bad n.
int prime_task(task_context& ctx, std::span<const char> input);
/// builtin:fib: fib(n) for the argument n (0..92); exit code 2 otherwise.
int fib_task(task_context& ctx, std::span<const char> input);

} // namespace ringfork::master
