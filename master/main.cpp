// ringfork's entry point: run a client subcommand (ctl, top), or parse the command line
// and become the master.
#include <cstdio>
#include <span>
#include <string_view>

#include <fmt/format.h>

#include "master/ctl/ctl.hpp"
#include "master/supervise/supervisor.hpp"
#include "master/config/options.hpp"

int main(int argc, char** argv)
{
    using namespace ringfork::master;
    if (argc >= 2 && (std::string_view(argv[1]) == "ctl" || std::string_view(argv[1]) == "top")) {
        const std::span<const char* const> rest(argv + 2, std::size_t(argc - 2));
        return std::string_view(argv[1]) == "ctl" ? run_ctl(rest) : run_top(rest);
    }
    options opts;
    const auto outcome = load_options(std::span<const char* const>(argv + 1, std::size_t(argc - 1)), opts);
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
    if (outcome.what == action::check) {
        fmt::print("ringfork: configuration {} is valid\n", opts.config_path.empty() ? "(flags only)" : opts.config_path);
        return 0;
    }
    return supervisor(std::move(opts), std::vector<std::string>(argv, argv + argc)).run();
}
