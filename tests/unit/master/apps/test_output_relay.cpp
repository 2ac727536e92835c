// Relaying an instance's output: lines, cut lines, escaped bytes, a pipe read to its end.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "master/apps/output_relay.hpp"

using namespace ringfork::master;

namespace {
std::vector<std::string> feed(line_splitter& s, std::vector<std::string> pieces, bool finish = false)
{
    std::vector<std::string> out;
    const auto take = [&](std::string_view l) { out.emplace_back(l); };
    for (const std::string& p : pieces)
        s.feed(p, take);
    if (finish)
        s.finish(take);
    return out;
}
} // namespace

BOOST_AUTO_TEST_SUITE(output_relay_lines)

BOOST_AUTO_TEST_CASE(lines_across_reads_and_crlf)
{
    line_splitter s;
    const auto lines = feed(s, {"one\ntw", "o\r\n", "", "\nthree"}, true);
    BOOST_TEST((lines == std::vector<std::string>{"one", "two", "", "three"}));
}

BOOST_AUTO_TEST_CASE(a_long_line_is_cut_once_and_its_rest_dropped)
{
    line_splitter s;
    const std::string big(line_splitter::line_max * 3, 'x');
    const auto lines = feed(s, {big.substr(0, 5000), big.substr(5000), "\nnext\n"});
    BOOST_REQUIRE(lines.size() == 2u);
    BOOST_TEST(lines[0] == std::string(line_splitter::line_max, 'x') + std::string(line_splitter::cut_mark));
    BOOST_TEST(lines[1] == "next");
}

BOOST_AUTO_TEST_CASE(a_line_of_exactly_the_limit_is_whole)
{
    line_splitter s;
    const std::string exact(line_splitter::line_max, 'y');
    const auto lines = feed(s, {exact, "\n"});
    BOOST_REQUIRE(lines.size() == 1u);
    BOOST_TEST(lines[0] == exact);
}

BOOST_AUTO_TEST_CASE(control_bytes_are_escaped)
{
    BOOST_TEST(printable("a\tb") == "a\tb");
    BOOST_TEST(printable("\x1b[31mred\r") == "\\x1b[31mred\\x0d");
    BOOST_TEST(printable(std::string("nul\0!", 5)) == "nul\\x00!");
    BOOST_TEST(printable("caf\xc3\xa9\x7f") == "caf\xc3\xa9\\x7f");
}

BOOST_AUTO_TEST_CASE(a_pipe_is_read_to_its_end_and_closed)
{
    int fds[2];
    BOOST_REQUIRE(::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0);
    output_relay relay("app t.0", ringfork::net::unique_fd(fds[0]));
    const std::string text = "hello\npartial";
    BOOST_REQUIRE(::write(fds[1], text.data(), text.size()) == ssize_t(text.size()));
    relay.on_readable();
    BOOST_TEST(relay.fd() == fds[0]); // open: the writer is still there
    ::close(fds[1]);
    relay.on_readable();
    BOOST_TEST(relay.fd() == -1);
}

BOOST_AUTO_TEST_SUITE_END()
