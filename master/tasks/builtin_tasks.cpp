// Built-in function tasks: prime and fib.
#include "master/tasks/builtin_tasks.hpp"

#include <charconv>

#include <fmt/format.h>

#include "master/tasks/registry.hpp"

namespace ringfork::master {

namespace {

/// The decimal u64 argument "n", or nullopt when it is missing or not all digits.
std::optional<std::uint64_t> n_argument(std::string_view args) noexcept
{
    const auto text = query_value(args, "n");
    if (!text || text->empty())
        return std::nullopt;
    std::uint64_t n = 0;
    const auto r = std::from_chars(text->data(), text->data() + text->size(), n);
    if (r.ec != std::errc{} || r.ptr != text->data() + text->size())
        return std::nullopt;
    return n;
}

bool emit_text(task_context& ctx, std::string_view text) { return ctx.emit({text.data(), text.size()}); }

} // namespace

prime_check check_prime(std::uint64_t n) noexcept
{
    if (n < 2)
        return {false, 0};
    if (n % 2 == 0)
        return n == 2 ? prime_check{true, 0} : prime_check{false, 2};
    // d <= n / d instead of d * d <= n: the square overflows near 2^64.
    for (std::uint64_t d = 3; d <= n / d; d += 2)
        if (n % d == 0)
            return {false, d};
    return {true, 0};
}

std::uint64_t naive_fib(unsigned n) noexcept { return n < 2 ? n : naive_fib(n - 1) + naive_fib(n - 2); }

int prime_task(task_context& ctx, std::span<const char>)
{
    const auto n = n_argument(ctx.args());
    if (!n) {
        ctx.error("prime: missing or invalid argument (want n=<decimal 0..18446744073709551615>)\n");
        return 2;
    }
    const prime_check c = check_prime(*n);
    if (c.prime)
        emit_text(ctx, fmt::format("{} is prime\n", *n));
    else if (c.divisor != 0)
        emit_text(ctx, fmt::format("{} is not prime: divisible by {}\n", *n, c.divisor));
    else
        emit_text(ctx, fmt::format("{} is not prime\n", *n));
    return 0;
}

int fib_task(task_context& ctx, std::span<const char>)
{
    const auto n = n_argument(ctx.args());
    if (!n || *n > fib_max_n) {
        ctx.error("fib: missing or invalid argument (want n=<0..92>)\n");
        return 2;
    }
    emit_text(ctx, fmt::format("{}\n", naive_fib(static_cast<unsigned>(*n))));
    return 0;
}

} // namespace ringfork::master
