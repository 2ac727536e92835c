// Text inside a JSON string: escaped, and always valid UTF-8.
#include <boost/test/unit_test.hpp>

#include "ipc/json_text.hpp"

using namespace ringfork;

BOOST_AUTO_TEST_SUITE(json_text_suite)

BOOST_AUTO_TEST_CASE(text_in_json_is_always_valid)
{
    BOOST_TEST(ipc::json_text("plain") == "plain");
    BOOST_TEST(ipc::json_text("a\"b\\c\n") == R"(a\"b\\c\u000a)");
    BOOST_TEST(ipc::json_text("a\"b\\c\n\x01\x7f") == R"(a\"b\\c\u000a\u0001\u007f)");
    BOOST_TEST(ipc::json_text("caf\xc3\xa9") == "caf\xc3\xa9");            // UTF-8 kept
    BOOST_TEST(ipc::json_text("bad\xff\xc3") == R"(bad\ufffd\ufffd)");     // not UTF-8: replaced
    BOOST_TEST(ipc::json_text("\xed\xa0\x80") == R"(\ufffd\ufffd\ufffd)"); // a surrogate is not UTF-8
}

BOOST_AUTO_TEST_SUITE_END()
