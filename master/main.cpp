// ringfork's entry point: parse the command line, then become the master.
#include <cstdio>
#include <span>

#include <fmt/format.h>

#include "master/master.hpp"
#include "master/options.hpp"

int main(int argc, char** argv)
{
    using namespace ringfork::master;
    options opts;
    const auto outcome = parse_options(std::span<const char* const>(argv + 1, std::size_t(argc - 1)), opts);
    if (!outcome.error.empty()) {
        fmt::print(stderr, "ringfork: {}\n", outcome.error);
        return 2;
    }
    if (outcome.what == action::help) {
        fmt::print("{}", usage());
        return 0;
    }
    if (outcome.what == action::version) {
        fmt::print("ringfork {}\n", RINGFORK_VERSION);
        return 0;
    }
    return master(std::move(opts)).run();
}
