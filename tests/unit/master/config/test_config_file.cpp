// TOML config file into flag-shaped arguments.
#include <boost/test/unit_test.hpp>

#include "master/config/config_file.hpp"

using namespace ringfork::master;

BOOST_AUTO_TEST_SUITE(config_file)

BOOST_AUTO_TEST_CASE(keys_become_flags)
{
    std::string error;
    auto args = config_arguments_from(R"(
listen = ["127.0.0.1:8080", "[::1]:8080"]
workers = 4
demo = true
autoindex = false
root = "/srv/www"
shutdown-timeout = 2.5
)",
                                      "t.toml", error);
    BOOST_REQUIRE_MESSAGE(args, error);
    // Keys come out in toml++'s table order (sorted); array order is kept.
    const std::vector<std::string> want = {"--demo",  "--listen",   "127.0.0.1:8080",     "--listen",
                                           "[::1]:8080", "--root", "/srv/www", "--shutdown-timeout",
                                           "2.5",     "--workers",  "4"};
    BOOST_TEST(*args == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(errors_name_file_and_line)
{
    std::string error;
    BOOST_TEST(!config_arguments_from("workers = \n", "bad.toml", error));
    BOOST_TEST(error.find("config bad.toml:1:") == 0u);
    error.clear();
    BOOST_TEST(!config_arguments_from("x = 1\n[table]\ny = 2\n", "t.toml", error));
    BOOST_TEST(error.find("table") != std::string::npos);
    error.clear();
    BOOST_TEST(!config_arguments("/nonexistent/ringfork.toml", error));
    BOOST_TEST(error.find("/nonexistent/ringfork.toml") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
