// Unit tests for net/http_parser's chunked_decoder: whole bodies, every split of the input,
// in-place decoding, extensions, size lines, limits, trailers, sticky ends.
#include "net/http_parser.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

using namespace ringfork::http;
using namespace std::string_view_literals;

namespace {

struct decoded {
    std::string body;
    bool done = false;
    std::uint16_t error = 0;
    std::size_t consumed = 0;
};

// Feeds `wire` in one call into a buffer large enough for all of it.
decoded decode_all(std::string_view wire, std::uint64_t max_body = 1 << 20) {
    chunked_decoder dec(max_body);
    std::string out(wire.size(), '\0');
    const auto st = dec.feed({wire.data(), wire.size()}, {out.data(), out.size()});
    out.resize(st.produced);
    return {out, st.done, st.error_status, st.consumed};
}

const std::string chunked_wire = "5\r\nhello\r\n6;ext=1\r\n world\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";

} // namespace

BOOST_AUTO_TEST_SUITE(http_chunked_decoder)

BOOST_AUTO_TEST_CASE(decodes_a_whole_body) {
    const auto d = decode_all(chunked_wire + "GET");
    BOOST_TEST(d.body == "hello world0123456789");
    BOOST_TEST(d.done);
    BOOST_TEST(d.error == 0u);
    BOOST_TEST(d.consumed == chunked_wire.size()); // the next request is left alone
    BOOST_TEST(decode_all("a\r\n0123456789\r\n0\r\n\r\n").body == "0123456789");
    BOOST_TEST(decode_all("0\r\n\r\n").done);
    BOOST_TEST(decode_all("0000\r\n\r\n").done);
}

BOOST_AUTO_TEST_CASE(every_pair_of_split_points) {
    int wrong = 0;
    const std::size_t n = chunked_wire.size();
    for (std::size_t a = 0; a <= n; ++a) {
        for (std::size_t b = a; b <= n; ++b) {
            chunked_decoder dec(1 << 20);
            std::string out(n, '\0');
            std::size_t produced = 0;
            bool done = false;
            const std::size_t cuts[] = {0, a, b, n};
            for (int piece = 0; piece < 3; ++piece) {
                const std::size_t from = cuts[piece], to = cuts[piece + 1];
                const auto st = dec.feed({chunked_wire.data() + from, to - from}, {out.data() + produced, n - produced});
                if (st.consumed != to - from || st.error_status != 0) ++wrong;
                produced += st.produced;
                done = st.done;
            }
            if (!done || out.substr(0, produced) != "hello world0123456789") ++wrong;
        }
    }
    BOOST_TEST(wrong == 0);
}

BOOST_AUTO_TEST_CASE(byte_by_byte_and_total) {
    chunked_decoder dec(1 << 20);
    std::string body;
    bool done = false;
    for (const char c : chunked_wire) {
        char out = 0;
        const auto st = dec.feed({&c, 1}, {&out, 1});
        BOOST_REQUIRE(st.consumed == 1u);
        body.append(&out, st.produced);
        done = st.done;
    }
    BOOST_TEST(done);
    BOOST_TEST(body == "hello world0123456789");
    BOOST_TEST(dec.total() == 21u);
}

BOOST_AUTO_TEST_CASE(in_place_decoding) {
    std::string buf = chunked_wire;
    chunked_decoder dec(1 << 20);
    const auto st = dec.feed({buf.data(), buf.size()}, {buf.data(), buf.size()});
    BOOST_TEST(st.done);
    BOOST_TEST(st.consumed == chunked_wire.size());
    BOOST_TEST(buf.substr(0, st.produced) == "hello world0123456789");
}

BOOST_AUTO_TEST_CASE(stops_when_output_is_full) {
    chunked_decoder dec(1 << 20);
    char out[4];
    auto st = dec.feed({chunked_wire.data(), chunked_wire.size()}, {out, sizeof out});
    BOOST_TEST(st.produced == 4u);
    BOOST_TEST(st.consumed == 7u); // "5\r\n" + "hell"
    BOOST_TEST(std::string(out, 4) == "hell");
    BOOST_TEST(!st.done);
    std::string rest(64, '\0');
    st = dec.feed({chunked_wire.data() + 7, chunked_wire.size() - 7}, {rest.data(), rest.size()});
    BOOST_TEST(st.done);
    BOOST_TEST(rest.substr(0, st.produced) == "o world0123456789");
}

BOOST_AUTO_TEST_CASE(chunk_extensions) {
    BOOST_TEST(decode_all("5;name=value\r\nhello\r\n0;last\r\n\r\n").body == "hello");
    BOOST_TEST(decode_all("5 ; a=\"q;x\"\r\nhello\r\n0\r\n\r\n").done);
    BOOST_TEST(decode_all("5 \r\nhello\r\n0\r\n\r\n").error == 400);
    BOOST_TEST(decode_all("5x\r\nhello\r\n0\r\n\r\n").error == 400);
    BOOST_TEST(decode_all("5 x\r\nhello\r\n0\r\n\r\n").error == 400);
    BOOST_TEST(decode_all("5;a\x01\r\nhello\r\n0\r\n\r\n").error == 400);
    BOOST_TEST(decode_all("5;\r\nhello\r\n0\r\n\r\n").error == 400);      // ext-name is 1*tchar
    BOOST_TEST(decode_all("5; \r\nhello\r\n0\r\n\r\n").error == 400);
    BOOST_TEST(decode_all("5;;a\r\nhello\r\n0\r\n\r\n").error == 400);
    BOOST_TEST(decode_all("5;=v\r\nhello\r\n0\r\n\r\n").error == 400);
    BOOST_TEST(decode_all("5;a;b\r\nhello\r\n0\r\n\r\n").done);
    BOOST_TEST(decode_all("5;" + std::string(4090, 'e') + "\r\nhello\r\n0\r\n\r\n").done);
    BOOST_TEST(decode_all("5;" + std::string(5000, 'e') + "\r\nhello\r\n0\r\n\r\n").error == 400);
}

BOOST_AUTO_TEST_CASE(size_line_errors) {
    BOOST_TEST(decode_all("\r\n").error == 400);
    BOOST_TEST(decode_all(";x\r\n").error == 400);
    BOOST_TEST(decode_all("-5\r\n").error == 400);
    BOOST_TEST(decode_all("5\nhello\r\n").error == 400);
    BOOST_TEST(decode_all("5\r\nhelloX\r\n").error == 400);
    BOOST_TEST(decode_all("5\r\nhello\rX").error == 400);
    BOOST_TEST(decode_all("5\r\nhello\n0\r\n\r\n").error == 400);
    BOOST_TEST(decode_all("5\r\r\n").error == 400);
}

BOOST_AUTO_TEST_CASE(size_overflow_and_413) {
    BOOST_TEST(decode_all("0000000000000000\r\n\r\n").done); // 16 digits fit
    BOOST_TEST(decode_all("00000000000000000\r\n\r\n").error == 400);
    BOOST_TEST(decode_all("10000000000000000\r\n").error == 400);
    BOOST_TEST(decode_all("ffffffffffffffff\r\n", std::numeric_limits<std::uint64_t>::max()).error == 0u);
    BOOST_TEST(decode_all("ffffffffffffffff\r\n").error == 413);
    BOOST_TEST(decode_all("b\r\n01234567890\r\n0\r\n\r\n", 10).error == 413);
    BOOST_TEST(decode_all("6\r\n012345\r\n6\r\n012345\r\n0\r\n\r\n", 10).error == 413);
    const auto exact = decode_all("5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n", 10);
    BOOST_TEST(exact.done);
    BOOST_TEST(exact.body == "0123456789");
}

BOOST_AUTO_TEST_CASE(trailers) {
    const auto d = decode_all("3\r\nabc\r\n0\r\nX-Sum: 1\r\nY:\t2\r\n\r\n");
    BOOST_TEST(d.done);
    BOOST_TEST(d.body == "abc");
    BOOST_TEST(decode_all("0\r\nX: a\0b\r\n\r\n"sv).error == 400);
    BOOST_TEST(decode_all("0\r\nX: a\rb\r\n\r\n").error == 400);
    BOOST_TEST(decode_all("0\r\nX: a\r\n folded\r\n\r\n").error == 400);
    BOOST_TEST(decode_all("0\r\nX: a\n\r\n").error == 400);
    BOOST_TEST(!decode_all("0\r\nX: a\r\n").done);
    BOOST_TEST(decode_all("0\r\nnot a field\r\n\r\n").error == 400); // field-line syntax
    BOOST_TEST(decode_all("0\r\n: empty-name\r\n\r\n").error == 400);
    BOOST_TEST(decode_all("0\r\nX-Y:\r\n\r\n").done);
    std::string big = "0\r\n";
    for (int i = 0; i < 100; ++i) big += "X-Trailer: " + std::string(80, 'v') + "\r\n";
    BOOST_TEST(decode_all(big + "\r\n").error == 400);
}

BOOST_AUTO_TEST_CASE(errors_and_done_are_sticky) {
    chunked_decoder dec(10);
    const std::string_view bad = "b\r\n";
    char out[16];
    auto st = dec.feed({bad.data(), bad.size()}, {out, sizeof out});
    BOOST_TEST(st.error_status == 413u);
    st = dec.feed({bad.data(), bad.size()}, {out, sizeof out});
    BOOST_TEST(st.error_status == 413u);
    BOOST_TEST(st.consumed == 0u);

    chunked_decoder finished(10);
    const std::string_view end = "0\r\n\r\n";
    BOOST_TEST(finished.feed({end.data(), end.size()}, {out, sizeof out}).done);
    st = finished.feed({end.data(), end.size()}, {out, sizeof out});
    BOOST_TEST(st.done);
    BOOST_TEST(st.consumed == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
