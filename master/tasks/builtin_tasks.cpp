// Built-in tasks: prime and fib.
#include "master/tasks/builtin_tasks.hpp"

#include <unistd.h>

#include <cerrno>
#include <charconv>

namespace ringfork::master {

namespace {

/// Writes all of `text`, retrying on EINTR; a failing write is dropped (nowhere to report it).
void write_all(int fd, std::string_view text) noexcept
{
    while (!text.empty()) {
        const ssize_t w = ::write(fd, text.data(), text.size());
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        text.remove_prefix(static_cast<std::size_t>(w));
    }
}

/// A line assembled in a fixed stack buffer: no allocation in the job child.
class line_buffer {
public:
    line_buffer& operator<<(std::string_view s) noexcept
    {
        for (char c : s)
            if (size_ < sizeof data_)
                data_[size_++] = c;
        return *this;
    }
    line_buffer& operator<<(std::uint64_t v) noexcept
    {
        char digits[24];
        const auto r = std::to_chars(digits, digits + sizeof digits, v);
        return *this << std::string_view(digits, static_cast<std::size_t>(r.ptr - digits));
    }
    [[nodiscard]] std::string_view view() const noexcept { return {data_, size_}; }

private:
    char data_[256];
    std::size_t size_ = 0;
};

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

int prime_task(std::string_view args, int out_fd, int err_fd) noexcept
{
    const auto n = n_argument(args);
    if (!n) {
        write_all(err_fd, "prime: missing or invalid argument (want n=<decimal 0..18446744073709551615>)\n");
        return 2;
    }
    const prime_check c = check_prime(*n);
    line_buffer line;
    line << *n;
    if (c.prime)
        line << " is prime\n";
    else if (c.divisor != 0)
        line << " is not prime: divisible by " << c.divisor << "\n";
    else
        line << " is not prime\n";
    write_all(out_fd, line.view());
    return 0;
}

int fib_task(std::string_view args, int out_fd, int err_fd) noexcept
{
    const auto n = n_argument(args);
    if (!n || *n > fib_max_n) {
        write_all(err_fd, "fib: missing or invalid argument (want n=<0..92>)\n");
        return 2;
    }
    line_buffer line;
    line << naive_fib(static_cast<unsigned>(*n)) << "\n";
    write_all(out_fd, line.view());
    return 0;
}

} // namespace

bool is_builtin_task(std::string_view name) noexcept { return name == "prime" || name == "fib"; }

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

std::optional<std::string_view> query_value(std::string_view query, std::string_view key) noexcept
{
    while (!query.empty()) {
        const auto amp = query.find('&');
        const std::string_view pair = query.substr(0, amp);
        query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
        const auto eq = pair.find('=');
        if (pair.substr(0, eq) == key)
            return eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    }
    return std::nullopt;
}

int run_builtin_task(std::string_view name, std::string_view args, int out_fd, int err_fd) noexcept
{
    if (name == "prime")
        return prime_task(args, out_fd, err_fd);
    if (name == "fib")
        return fib_task(args, out_fd, err_fd);
    line_buffer line;
    line << "unknown builtin task " << name << "\n";
    write_all(err_fd, line.view());
    return 2;
}

} // namespace ringfork::master
