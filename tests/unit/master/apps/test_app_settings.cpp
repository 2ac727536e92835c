// The --app flags and the rules across them.
#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

#include "master/apps/app_settings.hpp"
#include "master/config/options.hpp"

using namespace ringfork::master;

namespace {
parse_outcome parse(std::vector<const char*> args, options& o) { return parse_options(args, o); }
bool mentions(const parse_outcome& r, const std::string& what) { return r.error.find(what) != std::string::npos; }
} // namespace

BOOST_AUTO_TEST_SUITE(app_settings_flags)

BOOST_AUTO_TEST_CASE(an_app_is_an_upstream_without_addresses_that_proxy_routes_to)
{
    options o;
    const auto r = parse({"--app", "web=node 'my server.js' --flag", "--app-instances", "web=3", "--proxy", "/=web"}, o);
    BOOST_TEST_REQUIRE(r.error.empty(), r.error);
    BOOST_REQUIRE(o.apps.apps.size() == 1u);
    const app_spec& a = o.apps.apps[0];
    BOOST_TEST(a.name == "web");
    BOOST_TEST((a.argv == std::vector<std::string>{"node", "my server.js", "--flag"}));
    BOOST_TEST(a.instances == 3u);
    BOOST_TEST(a.health_path.empty());
    BOOST_TEST(a.health_timeout_ms == 10000u);
    BOOST_TEST(a.start_timeout_ms == 60000u);
    BOOST_TEST(a.stop_timeout_ms == 10000u);
    const int u = o.worker.proxy.find("web");
    BOOST_TEST_REQUIRE(u >= 0);
    BOOST_TEST(o.worker.proxy.upstreams[std::size_t(u)].addresses.empty());
    BOOST_REQUIRE(o.worker.proxy.routes.size() == 1u);
    BOOST_TEST(o.worker.proxy.routes[0].index == std::uint32_t(u));
}

BOOST_AUTO_TEST_CASE(per_app_flags_in_any_order_and_the_last_wins)
{
    options o;
    const auto r = parse({"--app-health", "api=/health?deep=1", "--app-health-timeout", "api=2.5", "--app",
                          "api=python3 app.py", "--app-start-timeout", "api=5", "--app-stop-timeout", "api=0.5",
                          "--app-instances", "api=2", "--app-instances", "api=4", "--upstream-idle-timeout", "api=7"},
                         o);
    BOOST_TEST_REQUIRE(r.error.empty(), r.error);
    const app_spec* a = o.apps.find("api");
    BOOST_TEST_REQUIRE(a != nullptr);
    BOOST_TEST(a->health_path == "/health?deep=1");
    BOOST_TEST(a->health_timeout_ms == 2500u);
    BOOST_TEST(a->start_timeout_ms == 5000u);
    BOOST_TEST(a->stop_timeout_ms == 500u);
    BOOST_TEST(a->instances == 4u);
    // The upstream timeouts apply to an app's upstream as to any other.
    BOOST_TEST(o.worker.proxy.upstreams[std::size_t(o.worker.proxy.find("api"))].timeouts.idle_ms == 7000u);
}

BOOST_AUTO_TEST_CASE(a_second_app_of_a_name_replaces_the_first)
{
    options o;
    BOOST_TEST(parse({"--app", "web=old", "--app", "web=new cmd"}, o).error.empty());
    BOOST_REQUIRE(o.apps.apps.size() == 1u);
    BOOST_TEST((o.apps.apps[0].argv == std::vector<std::string>{"new", "cmd"}));
}

BOOST_AUTO_TEST_CASE(refusals_name_the_flag_and_the_reason)
{
    // The flags, and what their refusal must mention.
    const std::vector<std::pair<std::vector<const char*>, std::string>> refusals = {
        {{"--app", "web=x", "--upstream", "web=127.0.0.1:3000"}, "--app web: an --upstream is named 'web' too"},
        {{"--app", "web=x", "--app-instances", "api=2"}, "--app-instances api: no --app named 'api'"},
        {{"--app", "web"}, "--app: 'web' is not NAME=COMMAND"},
        {{"--app", "web=  "}, "--app: web: empty command"},
        {{"--app", "w.b=x"}, "is not a name"},
        {{"--app", "web='x"}, "unterminated"},
        {{"--app", "web=x", "--app-instances", "web=17"}, "from 1 to 16"},
        {{"--app", "web=x", "--app-instances", "web=0"}, "from 1 to 16"},
        {{"--app", "web=x", "--app-health", "web=health"}, "is not a path"},
        {{"--app", "web=x", "--app-health", "web=/a b"}, "is not a path"},
        {{"--app", "web=x", "--app-health-timeout", "web"}, "is not NAME=SECS"},
        {{"--app", "web=x", "--app-stop-timeout", "web=0"}, "positive number of seconds"},
        {{"--app", "web=x", "--proxy", "/=api"}, "no --upstream named 'api'"},
    };
    for (const auto& [args, what] : refusals) {
        options o;
        BOOST_TEST(mentions(parse(args, o), what), what);
    }
}

BOOST_AUTO_TEST_CASE(health_paths)
{
    BOOST_TEST(valid_health_path("/"));
    BOOST_TEST(valid_health_path("/healthz?full=1&x=%20"));
    BOOST_TEST(!valid_health_path(""));
    BOOST_TEST(!valid_health_path("healthz"));
    BOOST_TEST(!valid_health_path("/a\r\nX: y"));
    BOOST_TEST(!valid_health_path("/a#frag"));
    BOOST_TEST(!valid_health_path("/" + std::string(1024, 'a')));
}

BOOST_AUTO_TEST_SUITE_END()
