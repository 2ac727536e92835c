// Route matching: literal, parameter and catch-all segments, their precedence, methods.
#include <boost/test/unit_test.hpp>

#include <string>

#include "worker/router.hpp"

using namespace ringfork;
using namespace ringfork::worker;

namespace {
struct nop final : handler {
    void handle(const request_view&, http::response_writer&, deferred&) override {}
};

handler* target(const router& r, std::string_view path, http::method m = http::method::get)
{
    router::match out;
    return r.find(path, m, out) ? out.handler_for_method : nullptr;
}

std::string param(const router& r, std::string_view path, std::string_view name)
{
    router::match out;
    BOOST_REQUIRE(r.find(path, http::method::get, out));
    return std::string(out.params.get(name));
}
} // namespace

BOOST_AUTO_TEST_SUITE(router_suite)

BOOST_AUTO_TEST_CASE(exact_before_prefix_and_longest_prefix)
{
    nop a, b, c, d;
    router r;
    BOOST_TEST(r.add_prefix("/", get_head, &a).empty());
    BOOST_TEST(r.add("/plaintext", get_head, &b).empty());
    BOOST_TEST(r.add_prefix("/static/", get_head | bit(http::method::post), &c).empty());
    BOOST_TEST(r.add_prefix("/static/img/", get_head, &d).empty());
    BOOST_TEST(target(r, "/plaintext") == &b);
    BOOST_TEST(target(r, "/plaintext/x") == &a);
    BOOST_TEST(target(r, "/static/a.css") == &c);
    BOOST_TEST(target(r, "/static/img/a.png") == &d);
    BOOST_TEST(target(r, "/other") == &a);
    router::match m;
    BOOST_TEST(r.find("/static/x", http::method::get, m));
    BOOST_TEST(*m.allow == "GET, HEAD, POST");
}

BOOST_AUTO_TEST_CASE(no_match_is_false)
{
    nop a;
    router r;
    BOOST_TEST(r.add("/json", get_head, &a).empty());
    router::match m;
    BOOST_TEST(r.find("/json", http::method::get, m));
    BOOST_TEST(!r.find("/jso", http::method::get, m));
    BOOST_TEST(!r.find("/json/", http::method::get, m));
    BOOST_TEST(!r.find("", http::method::get, m));
}

BOOST_AUTO_TEST_CASE(parameters_and_catch_all)
{
    nop user, file, post;
    router r;
    BOOST_TEST(r.add("/users/{id}", get_head, &user).empty());
    BOOST_TEST(r.add("/users/{id}/posts/{post}", get_head, &post).empty());
    BOOST_TEST(r.add("/files/{*path}", get_head, &file).empty());
    BOOST_TEST(target(r, "/users/42") == &user);
    BOOST_TEST(param(r, "/users/42", "id") == "42");
    BOOST_TEST(param(r, "/users/7/posts/x", "id") == "7");
    BOOST_TEST(param(r, "/users/7/posts/x", "post") == "x");
    BOOST_TEST(target(r, "/users/") == nullptr);   // a parameter is never empty
    BOOST_TEST(target(r, "/users") == nullptr);
    BOOST_TEST(target(r, "/users/1/2") == nullptr);
    BOOST_TEST(param(r, "/files/a/b/c.txt", "path") == "a/b/c.txt");
    BOOST_TEST(param(r, "/files/", "path") == "");
    BOOST_TEST(target(r, "/files") == nullptr);
    // Decoded paths are matched: a parameter holds the decoded text.
    BOOST_TEST(param(r, "/users/J\xc3\xbcrgen", "id") == "J\xc3\xbcrgen");
}

BOOST_AUTO_TEST_CASE(literal_beats_parameter_beats_catch_all_with_fallback)
{
    nop me, any, rest, deep;
    router r;
    BOOST_TEST(r.add("/users/me", get_head, &me).empty());
    BOOST_TEST(r.add("/users/{id}", get_head, &any).empty());
    BOOST_TEST(r.add("/users/{*rest}", get_head, &rest).empty());
    BOOST_TEST(r.add("/users/me/deep/x", get_head, &deep).empty());
    BOOST_TEST(target(r, "/users/me") == &me);
    BOOST_TEST(target(r, "/users/you") == &any);
    BOOST_TEST(target(r, "/users/a/b") == &rest);
    // "me" matches the literal, which has no route for "/deep/y": the catch-all takes it.
    BOOST_TEST(target(r, "/users/me/deep/y") == &rest);
    BOOST_TEST(target(r, "/users/me/deep/x") == &deep);
    BOOST_TEST(param(r, "/users/me/deep/y", "rest") == "me/deep/y");
}

BOOST_AUTO_TEST_CASE(methods_405_and_head_from_get)
{
    nop get, post;
    router r;
    BOOST_TEST(r.add("/items/{id}", bit(http::method::get), &get).empty());
    BOOST_TEST(r.add("/items/{id}", bit(http::method::post), &post).empty());
    BOOST_TEST(target(r, "/items/1", http::method::post) == &post);
    BOOST_TEST(target(r, "/items/1", http::method::head) == &get);
    router::match m;
    BOOST_TEST(r.find("/items/1", http::method::delete_, m));
    BOOST_TEST(m.handler_for_method == nullptr);
    BOOST_TEST(*m.allow == "GET, HEAD, POST");
    BOOST_TEST(r.allow_all() == "GET, POST, OPTIONS");
}

BOOST_AUTO_TEST_CASE(bad_patterns_and_duplicates_are_refused)
{
    nop a;
    router r;
    BOOST_TEST(!r.add("users", get_head, &a).empty());
    BOOST_TEST(!r.add("/a/{*rest}/b", get_head, &a).empty());
    BOOST_TEST(!r.add("/a/{}", get_head, &a).empty());
    BOOST_TEST(!r.add("/a/b{c}", get_head, &a).empty());
    BOOST_TEST(!r.add("/a/{b-c}", get_head, &a).empty());
    BOOST_TEST(r.add("/a/{id}", get_head, &a).empty());
    BOOST_TEST(!r.add("/a/{other}", get_head, &a).empty());
    BOOST_TEST(!r.add("/a/{id}", bit(http::method::get), &a).empty());
    BOOST_TEST(r.add("/a/{id}", bit(http::method::put), &a).empty());
    BOOST_TEST(!r.add_prefix("/noslash", get_head, &a).empty());
}

BOOST_AUTO_TEST_SUITE_END()
