// ringfork::app::run: a client subcommand (ctl, top), or parse the command line and become
// the master of this application. The ringfork binary is an app with nothing registered.
#include <cstdio>
#include <span>
#include <string_view>

#include <fmt/format.h>

#include "ipc/app_spec.hpp"
#include "master/config/options.hpp"
#include "master/ctl/ctl.hpp"
#include "master/supervise/supervisor.hpp"
#include "ringfork/app.hpp"

namespace ringfork {

int app::run(int argc, char** argv)
{
    using namespace ringfork::master;
    if (argc >= 2 && (std::string_view(argv[1]) == "ctl" || std::string_view(argv[1]) == "top")) {
        const std::span<const char* const> rest(argv + 2, std::size_t(argc - 2));
        return std::string_view(argv[1]) == "ctl" ? run_ctl(rest) : run_top(rest);
    }
    options opts;
    opts.app = spec_.get();
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
    for (const auto& hook : spec_->on_starting)
        hook();
    const int code = supervisor(std::move(opts), std::vector<std::string>(argv, argv + argc)).run();
    for (const auto& hook : spec_->on_exit)
        hook();
    return code;
}

} // namespace ringfork
