// Route matching.
#include <boost/test/unit_test.hpp>

#include "worker/router.hpp"

using namespace ringfork;
using namespace ringfork::worker;

namespace {
struct nop final : handler {
    void handle(const request_view&, http::response_writer&, deferred&) override {}
};
} // namespace

BOOST_AUTO_TEST_SUITE(router_suite)

BOOST_AUTO_TEST_CASE(exact_before_prefix_and_longest_prefix)
{
    nop a, b, c, d;
    router r;
    r.add_prefix("/", get_head, &a);
    r.add("/plaintext", get_head, &b);
    r.add_prefix("/static/", get_head | bit(http::method::post), &c);
    r.add_prefix("/static/img/", get_head, &d);
    BOOST_TEST(r.find("/plaintext")->target == &b);
    BOOST_TEST(r.find("/plaintext/x")->target == &a);
    BOOST_TEST(r.find("/static/a.css")->target == &c);
    BOOST_TEST(r.find("/static/img/a.png")->target == &d);
    BOOST_TEST(r.find("/other")->target == &a);
    BOOST_TEST(r.find("/static/x")->allow == "GET, HEAD, POST");
}

BOOST_AUTO_TEST_CASE(no_match_is_null)
{
    nop a;
    router r;
    r.add("/json", get_head, &a);
    BOOST_TEST(r.find("/json") != nullptr);
    BOOST_TEST(r.find("/jso") == nullptr);
    BOOST_TEST(r.find("/json/") == nullptr);
    BOOST_TEST(r.find("") == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
