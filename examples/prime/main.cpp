// A computation that must not stall the server: GET /prime/{n} checks n by trial division
// in a task (a runner process, not the worker) and streams its progress lines while it
// checks, then the verdict line ("29355126551 is prime"). GET /ping answers "pong" at once
// all the while, however many checks run on the same worker.
#include <ringfork/ringfork.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>

namespace {

/// The task, in a runner process: a progress line at every tenth of the divisors tried.
std::string check(ringfork::task_context& ctx, std::string_view input)
{
    std::uint64_t n = 0;
    std::from_chars(input.data(), input.data() + input.size(), n);
    const std::string number = std::to_string(n);
    if (n < 2)
        return number + " is not prime\n";
    // The largest divisor worth trying: floor(sqrt(n)), corrected for the double's rounding.
    auto limit = static_cast<std::uint64_t>(std::sqrt(static_cast<double>(n)));
    while (limit > 1 && limit > n / limit)
        --limit;
    while (limit + 1 <= n / (limit + 1))
        ++limit;
    unsigned reported = 0;
    for (std::uint64_t d = 2; d <= limit; d += d == 2 ? std::uint64_t{1} : std::uint64_t{2}) {
        if (n % d == 0)
            return number + " is not prime (" + std::to_string(d) + " x " + std::to_string(n / d) + ")\n";
        if ((d & 0xfffff) == 1 && ctx.cancelled())
            return {}; // cancelled, or past its timeout: stop before the SIGKILL
        if (const auto tenth = static_cast<unsigned>(d * 10 / limit); tenth > reported) {
            reported = tenth;
            ctx.progress("checked " + std::to_string(tenth * 10) + "% (divisors up to " + std::to_string(d) + ")");
        }
    }
    return number + " is prime\n";
}

/// n as the whole path segment: 1 to 20 digits that fit 64 bits.
bool parse(std::string_view text, std::uint64_t& n)
{
    const auto r = std::from_chars(text.data(), text.data() + text.size(), n);
    return !text.empty() && r.ec == std::errc() && r.ptr == text.data() + text.size();
}

} // namespace

int main(int argc, char** argv)
{
    ringfork::app app;
    app.task("prime", check);

    app.get("/ping", [](ringfork::request&, ringfork::responder res) { res.send(200, "text/plain", "pong\n"); });

    app.get("/prime/{n}", [](ringfork::request& req, ringfork::responder res) {
        std::uint64_t n = 0;
        if (!parse(req.param("n"), n)) {
            res.send(400, "text/plain", "want /prime/N with N a whole number below 2^64\n");
            return;
        }
        // The writer is shared by the progress callback and the outcome's.
        auto out = std::make_shared<ringfork::body_writer>(res.stream(200, "text/plain; charset=utf-8"));
        ringfork::call_options options;
        options.client = out->client(); // the client leaving cancels the check
        options.on_progress = [out](std::string_view line) { out->write(std::string(line) + "\n"); };
        ringfork::call_task("prime", std::to_string(n), std::move(options), [out](ringfork::task_result r) {
            const std::string why = std::string(ringfork::outcome_name(r.what)) + ": " + r.message;
            out->write(r.ok() ? r.output : "error: " + why + "\n");
            out->finish();
        });
    });

    return app.run(argc, argv);
}
