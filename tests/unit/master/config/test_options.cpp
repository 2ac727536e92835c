// Command-line parsing.
#include <boost/test/unit_test.hpp>

#include <vector>

#include "master/config/options.hpp"

using namespace ringfork::master;

namespace {
parse_outcome parse(std::vector<const char*> args, options& o) { return parse_options(args, o); }
} // namespace

BOOST_AUTO_TEST_SUITE(command_line)

BOOST_AUTO_TEST_CASE(no_arguments_is_the_embedded_default)
{
    options o;
    auto r = parse({}, o);
    BOOST_TEST(r.error.empty());
    BOOST_TEST(int(r.what) == int(action::serve));
    BOOST_REQUIRE(o.listen.size() == 1u);
    BOOST_TEST(o.listen[0].to_string() == "127.0.0.1:8080");
    BOOST_TEST(o.workers == 0u);
    BOOST_TEST(o.worker.demo);
    BOOST_TEST(o.worker.welcome);
    BOOST_TEST(int(o.accept) == int(accept_mode::reuseport));
    BOOST_TEST(o.defer_accept_s == 1u);
}

BOOST_AUTO_TEST_CASE(defer_accept_seconds)
{
    options o;
    BOOST_TEST(parse({"--defer-accept", "0"}, o).error.empty());
    BOOST_TEST(o.defer_accept_s == 0u);
    BOOST_TEST(o.worker.retire_accept_ms == 0u); // nothing is deferred: the queue is all there is
    BOOST_TEST(parse({"--defer-accept=600"}, o).error.empty());
    BOOST_TEST(o.defer_accept_s == 600u);
    BOOST_TEST(o.worker.retire_accept_ms == 601'000u);
    BOOST_TEST(parse({"--defer-accept", "601"}, o).error.find("--defer-accept") != std::string::npos);
    BOOST_TEST(!parse({"--defer-accept", "-1"}, o).error.empty());
    BOOST_TEST(!parse({"--defer-accept", "1.5"}, o).error.empty());
}

BOOST_AUTO_TEST_CASE(flags_in_both_forms)
{
    options o;
    auto r = parse({"--listen", "[::1]:9000", "--listen=127.0.0.1:0", "--workers=3", "--accept", "shared", "--demo",
                    "--max-body", "2m", "--header-timeout", "2.5", "--pid-file", "/tmp/x.pid"},
                   o);
    BOOST_TEST(r.error.empty());
    BOOST_REQUIRE(o.listen.size() == 2u);
    BOOST_TEST(o.listen[0].to_string() == "[::1]:9000");
    BOOST_TEST(o.workers == 3u);
    BOOST_TEST(int(o.accept) == int(accept_mode::shared));
    BOOST_TEST(o.worker.shared_accept);
    BOOST_TEST(o.worker.demo);
    BOOST_TEST(!o.worker.welcome);
    BOOST_TEST(o.worker.limits.max_body == 2u << 20);
    BOOST_TEST(o.worker.header_timeout_ms == 2500u);
    BOOST_TEST(o.pid_file == "/tmp/x.pid");
}

BOOST_AUTO_TEST_CASE(errors_name_the_flag)
{
    options o;
    BOOST_TEST(parse({"--bogus"}, o).error.find("--bogus") != std::string::npos);
    BOOST_TEST(parse({"--workers", "0"}, o).error.find("--workers") != std::string::npos);
    BOOST_TEST(parse({"--workers", "many"}, o).error.find("'many'") != std::string::npos);
    BOOST_TEST(parse({"--listen", "nowhere"}, o).error.find("--listen") != std::string::npos);
    BOOST_TEST(parse({"--listen"}, o).error.find("needs a value") != std::string::npos);
    BOOST_TEST(parse({"--accept", "round-robin"}, o).error.find("reuseport or shared") != std::string::npos);
    BOOST_TEST(!parse({"--idle-timeout", "-1"}, o).error.empty());
    BOOST_TEST(!parse({"--max-body", "12q"}, o).error.empty());
    // A body up to --max-body is held in a connection's buffer: at most 1g.
    BOOST_TEST(parse({"--max-body", "1g"}, o).error.empty());
    BOOST_TEST(parse({"--max-body", "1025m"}, o).error.find("more than 1g") != std::string::npos);
    BOOST_TEST(int(parse({"--version"}, o).what) == int(action::version));
    BOOST_TEST(int(parse({"--help"}, o).what) == int(action::help));
}

BOOST_AUTO_TEST_SUITE_END()
