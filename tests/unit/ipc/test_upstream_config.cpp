// Upstream addresses, --upstream/--proxy values and the rules across them.
#include <boost/test/unit_test.hpp>

#include <sys/un.h>

#include <string>
#include <vector>

#include <fmt/format.h>

#include "ipc/upstream_config.hpp"

using namespace ringfork;
using namespace ringfork::ipc;

namespace {

proxy_settings with(std::vector<std::string> upstreams, std::vector<std::string> routes)
{
    proxy_settings p;
    for (const auto& u : upstreams) {
        upstream_settings s;
        BOOST_REQUIRE(parse_upstream_flag(u, s).empty());
        p.upstreams.push_back(std::move(s));
    }
    for (const auto& r : routes) {
        proxy_route route;
        BOOST_REQUIRE(parse_proxy_flag(r, route).empty());
        p.routes.push_back(std::move(route));
    }
    return p;
}

} // namespace

BOOST_AUTO_TEST_SUITE(upstream_config)

BOOST_AUTO_TEST_CASE(addresses)
{
    auto a = parse_upstream_address("127.0.0.1:3000");
    BOOST_REQUIRE(a);
    BOOST_TEST(a->addr.ss_family == AF_INET);
    BOOST_TEST(a->text == "127.0.0.1:3000");
    a = parse_upstream_address("localhost:3000");
    BOOST_REQUIRE(a);
    BOOST_TEST(a->addr.ss_family == AF_INET);
    BOOST_REQUIRE(parse_upstream_address("[::1]:80"));
    a = parse_upstream_address("unix:/run/app.sock");
    BOOST_REQUIRE(a);
    BOOST_TEST(a->is_unix());
    BOOST_TEST(std::string(reinterpret_cast<const sockaddr_un&>(a->addr).sun_path) == "/run/app.sock");
    for (const char* bad : {"", "app:80", "example.com:80", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", ":80",
                            "*:80", "0.0.0.0:80", "[::]:80", "unix:", "unix:relative.sock", "[::1]"})
        BOOST_TEST(!parse_upstream_address(bad), bad);
    std::string long_path = "unix:/";
    long_path.append(120, 'a');
    BOOST_TEST(!parse_upstream_address(long_path)); // longer than sun_path
}

BOOST_AUTO_TEST_CASE(upstream_values)
{
    upstream_settings u;
    BOOST_TEST(parse_upstream_flag("app=127.0.0.1:3000,unix:/tmp/a.sock", u).empty());
    BOOST_TEST(u.name == "app");
    BOOST_TEST(u.addresses.size() == 2u);
    BOOST_TEST(u.timeouts.connect_ms == 5000u);
    BOOST_TEST(u.timeouts.first_byte_ms == 60000u);
    BOOST_TEST(u.timeouts.idle_ms == 60000u);
    BOOST_TEST(parse_upstream_flag("app", u).find("NAME=ADDR") != std::string::npos);
    BOOST_TEST(parse_upstream_flag("=127.0.0.1:1", u).find("is not a name") != std::string::npos);
    BOOST_TEST(parse_upstream_flag("a.b=127.0.0.1:1", u).find("is not a name") != std::string::npos);
    BOOST_TEST(parse_upstream_flag("app=127.0.0.1:1,", u).find("'' is not HOST:PORT") != std::string::npos);
    BOOST_TEST(parse_upstream_flag("app=127.0.0.1:1,127.0.0.1:1", u) == "app: address '127.0.0.1:1' given twice");
    std::string many = "app=";
    for (int i = 1; i <= 17; ++i)
        many.append("127.0.0.1:").append(std::to_string(i)).append(i < 17 ? "," : "");
    BOOST_TEST(parse_upstream_flag(many, u) == "app: more than 16 addresses");
}

BOOST_AUTO_TEST_CASE(prefixes)
{
    proxy_route r;
    BOOST_TEST(parse_proxy_flag("/api/=app", r).empty());
    BOOST_TEST(r.prefix == "/api");
    BOOST_TEST(parse_proxy_flag("/=app", r).empty());
    BOOST_TEST(r.prefix == "/");
    BOOST_TEST(parse_proxy_flag("/a/b-c/d=x_1", r).empty());
    BOOST_TEST(r.prefix == "/a/b-c/d");
    for (const char* bad : {"api=app", "/a//b=app", "/a/../b=app", "/./a=app", "/a%2f=app", "/{x}=app", "/a b=app",
                            "/a?b=app", "/a=", "/a=b/c", "//=app"})
        BOOST_TEST(!parse_proxy_flag(bad, r).empty(), bad);
}

BOOST_AUTO_TEST_CASE(rules_across_flags)
{
    auto p = with({"app=127.0.0.1:1", "api=127.0.0.1:2"}, {"/=app", "/v1=api"});
    BOOST_TEST(resolve_proxy(p, false).empty());
    BOOST_TEST(p.routes[0].index == 0u);
    BOOST_TEST(p.routes[1].index == 1u);

    p = with({"app=127.0.0.1:1"}, {"/=nope"});
    BOOST_TEST(resolve_proxy(p, false) == "--proxy /=nope: no --upstream named 'nope'");
    p = with({"app=127.0.0.1:1"}, {"/x/=app", "/x=app"});
    BOOST_TEST(resolve_proxy(p, false) == "--proxy /x: prefix given twice");
    p = with({"app=127.0.0.1:1", "app=127.0.0.1:2"}, {});
    BOOST_TEST(resolve_proxy(p, false) == "--upstream app: given twice");
    p = with({"app=127.0.0.1:1"}, {"/=app"});
    BOOST_TEST(resolve_proxy(p, true).find("--root serves every path") != std::string::npos);
    p = with({"app=127.0.0.1:1"}, {"/api=app"});
    BOOST_TEST(resolve_proxy(p, true).empty()); // a narrower prefix beside --root is fine

    p = with({"app=127.0.0.1:1"}, {});
    p.timeouts.push_back({"app", upstream_timeout_kind::first_byte, 2500});
    p.timeouts.push_back({"app", upstream_timeout_kind::idle, 700});
    BOOST_TEST(resolve_proxy(p, false).empty());
    BOOST_TEST(p.upstreams[0].timeouts.first_byte_ms == 2500u);
    BOOST_TEST(p.upstreams[0].timeouts.idle_ms == 700u);
    BOOST_TEST(p.upstreams[0].timeouts.connect_ms == 5000u);
    p.timeouts.push_back({"other", upstream_timeout_kind::connect, 1});
    BOOST_TEST(resolve_proxy(p, false) == "--upstream-connect-timeout other: no --upstream named 'other'");

    std::vector<std::string> many;
    for (int i = 0; i < 17; ++i)
        many.push_back(fmt::format("u{}=127.0.0.1:1", i));
    p = with(many, {});
    BOOST_TEST(resolve_proxy(p, false) == "--upstream: more than 16 upstreams");
}

BOOST_AUTO_TEST_SUITE_END()
