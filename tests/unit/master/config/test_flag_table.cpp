// The flag table: one declaration gives parsing, the usage text and the config keys.
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "master/config/flag_table.hpp"

using namespace ringfork::master;

namespace {

/// A TOML file that removes itself.
struct temp_config {
    std::string path;
    explicit temp_config(const std::string& text)
    {
        char name[] = "/tmp/rf-flags-XXXXXX";
        const int fd = ::mkstemp(name);
        BOOST_REQUIRE(fd >= 0);
        ::close(fd);
        path = name;
        std::ofstream(path) << text;
    }
    ~temp_config() { std::remove(path.c_str()); }
};

} // namespace

BOOST_AUTO_TEST_SUITE(flag_table)

BOOST_AUTO_TEST_CASE(every_valued_flag_needs_its_value)
{
    unsigned checked = 0;
    for (const flag_group& g : flag_groups())
        for (const flag_spec& f : g.flags) {
            if (f.value.empty())
                continue;
            options o;
            const std::vector<const char*> args = {f.name.data()};
            const parse_outcome r = parse_options(args, o);
            BOOST_TEST(r.error == std::string(f.name) + ": needs a value");
            ++checked;
        }
    BOOST_TEST(checked > 20u);
}

BOOST_AUTO_TEST_CASE(usage_lists_every_flag_with_its_help)
{
    const std::string text = usage();
    for (const flag_group& g : flag_groups()) {
        if (g.title.empty())
            continue;
        BOOST_TEST(text.find(fmt::format("{}\n", g.title)) != std::string::npos, g.title);
        for (const flag_spec& f : g.flags) {
            const std::string left =
                f.value.empty() ? fmt::format("\n  {}", f.name) : fmt::format("\n  {} {}", f.name, f.value);
            const auto at = text.find(left);
            BOOST_TEST(at != std::string::npos, f.name);
            BOOST_TEST(text.find(std::string(f.help), at) == at + std::max<std::size_t>(left.size() + 1, 29), f.name);
        }
    }
}

BOOST_AUTO_TEST_CASE(aliases_and_actions)
{
    BOOST_TEST(find_flag("-h") == find_flag("--help"));
    BOOST_TEST(find_flag("--nope") == nullptr);
    options o;
    BOOST_TEST(int(parse_options(std::vector<const char*>{"--demo", "-t"}, o).what) == int(action::check));
    BOOST_TEST(int(parse_options(std::vector<const char*>{"-h"}, o).what) == int(action::help));
}

BOOST_AUTO_TEST_CASE(config_keys_are_the_long_flags)
{
    temp_config file("listen = ['127.0.0.1:7001', '127.0.0.1:7002']\nmax-body = '2m'\ntask-workers = 3\n"
                     "task = ['a=echo a']\nserve-dotfiles = true\nidle-timeout = 1.5\n");
    options o;
    const std::vector<const char*> args = {"--config", file.path.c_str(), "--task", "b=echo b"};
    const parse_outcome r = load_options(args, o);
    BOOST_REQUIRE_MESSAGE(r.error.empty(), r.error);
    BOOST_REQUIRE(o.listen.size() == 2u);
    BOOST_TEST(o.listen[1].to_string() == "127.0.0.1:7002");
    BOOST_TEST(o.worker.limits.max_body == 2u << 20);
    BOOST_TEST(o.tasks.runners == 3u);
    BOOST_TEST(o.worker.serve_dotfiles);
    BOOST_TEST(o.worker.idle_timeout_ms == 1500u);
    // --task on the command line adds to the file's tasks (and the default's demo tasks).
    auto named = [&](const char* n) {
        return std::count_if(o.tasks.tasks.begin(), o.tasks.tasks.end(), [&](const task_spec& t) { return t.name == n; });
    };
    BOOST_TEST(named("a") == 1);
    BOOST_TEST(named("b") == 1);
}

BOOST_AUTO_TEST_CASE(command_line_listen_replaces_the_files_list)
{
    temp_config file("listen = ['127.0.0.1:7001', '127.0.0.1:7002']\n");
    options o;
    const std::vector<const char*> args = {"--listen", "127.0.0.1:7003", "--config", file.path.c_str(),
                                           "--listen=127.0.0.1:7004"};
    BOOST_REQUIRE(load_options(args, o).error.empty());
    BOOST_REQUIRE(o.listen.size() == 2u);
    BOOST_TEST(o.listen[0].to_string() == "127.0.0.1:7003");
    BOOST_TEST(o.listen[1].to_string() == "127.0.0.1:7004");
}

BOOST_AUTO_TEST_CASE(config_file_errors_name_the_file_and_flag)
{
    temp_config file("workers = 0\n");
    options o;
    const std::vector<const char*> args = {"--config", file.path.c_str()};
    BOOST_TEST(load_options(args, o).error ==
               "config " + file.path + ": --workers: '0' is not auto or a number from 1 to 256");
}

BOOST_AUTO_TEST_CASE(proxy_flags_on_the_command_line_and_in_the_config_file)
{
    options o;
    std::vector<const char*> args = {"--upstream", "app=127.0.0.1:3000,127.0.0.1:3001", "--proxy=/api=app",
                                     "--upstream-connect-timeout", "app=1.5"};
    BOOST_TEST(parse_options(args, o).error.empty());
    BOOST_REQUIRE(o.worker.proxy.upstreams.size() == 1u);
    BOOST_TEST(o.worker.proxy.upstreams[0].timeouts.connect_ms == 1500u);
    BOOST_TEST(o.worker.proxy.routes[0].prefix == "/api");
    BOOST_TEST(!o.worker.demo); // --proxy is content: no embedded default beside it
    options bad;
    args = {"--upstream-first-byte-timeout", "app"};
    BOOST_TEST(parse_options(args, bad).error == "--upstream-first-byte-timeout: 'app' is not NAME=SECS");

    // The same rules for the config file, as start, reload and -t read it.
    temp_config unknown("upstream = [\"app=127.0.0.1:3000\"]\nproxy = [\"/=app\", \"/v2=other\"]\n");
    options from_file;
    std::vector<const char*> with_config = {"--config", unknown.path.c_str(), "-t"};
    BOOST_TEST(load_options(with_config, from_file).error == "--proxy /v2=other: no --upstream named 'other'");
    temp_config good("upstream = [\"app=127.0.0.1:3000\", \"other=unix:/tmp/o.sock\"]\n"
                     "proxy = [\"/=app\", \"/v2=other\"]\nupstream-idle-timeout = \"other=3\"\n");
    with_config[1] = good.path.c_str();
    options checked;
    const parse_outcome r = load_options(with_config, checked);
    BOOST_TEST(r.error.empty());
    BOOST_TEST(int(r.what) == int(action::check));
    BOOST_TEST(checked.worker.proxy.routes.size() == 2u);
    BOOST_TEST(checked.worker.proxy.routes[1].index == 1u);
    BOOST_TEST(checked.worker.proxy.upstreams[1].timeouts.idle_ms == 3000u);
}

BOOST_AUTO_TEST_SUITE_END()
