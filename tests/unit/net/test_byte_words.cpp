// Word-at-a-time byte tests: each agrees with a byte-by-byte look, for every byte value at
// every position of strings shorter than, equal to and longer than a word.
#include <boost/test/unit_test.hpp>

#include <string>

#include "net/byte_words.hpp"

using namespace ringfork::net;

namespace {

/// Strings of 1 to 19 'x' with one byte changed, every value at every position: how many
/// times the word test and the byte test disagree.
template <typename WordTest, typename ByteTest> int disagreements(WordTest word_test, ByteTest byte_test)
{
    int n = 0;
    for (std::size_t len = 1; len <= 19; ++len)
        for (std::size_t at = 0; at < len; ++at)
            for (int b = 0; b < 256; ++b) {
                std::string s(len, 'x');
                s[at] = static_cast<char>(b);
                if (byte_words::any(s, word_test) != byte_test(static_cast<unsigned char>(b)))
                    ++n;
            }
    return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(byte_words_suite)

BOOST_AUTO_TEST_CASE(below_agrees_with_a_byte_by_byte_look_everywhere)
{
    for (const std::uint8_t bound : {std::uint8_t(0x0e), std::uint8_t(0x20), std::uint8_t('a')}) {
        BOOST_TEST(disagreements([&](std::uint64_t w) { return byte_words::below(w, bound); },
                                 [&](unsigned char c) { return c < bound; }) == 0,
                   "bound " << int(bound));
    }
}

BOOST_AUTO_TEST_CASE(equal_finds_the_byte_at_every_position_and_nothing_else)
{
    BOOST_TEST(disagreements([](std::uint64_t w) { return byte_words::equal(w, '%'); },
                             [](unsigned char c) { return c == '%'; }) == 0);
}

BOOST_AUTO_TEST_CASE(a_low_byte_next_to_high_bytes_is_found_and_not_invented)
{
    // Borrows run from a low byte towards higher ones: bytes at or above 0x80 around it
    // must neither hide it nor be marked themselves.
    const auto control = [](std::uint64_t w) { return byte_words::below(w, 0x20); };
    std::string s(16, '\xff');
    BOOST_TEST(!byte_words::any(s, control));
    s[5] = '\x1f';
    BOOST_TEST(byte_words::any(s, control));
    s[5] = '\x80';
    BOOST_TEST(!byte_words::any(s, control));
}

BOOST_AUTO_TEST_CASE(an_empty_string_has_no_byte)
{
    BOOST_TEST(!byte_words::any({}, [](std::uint64_t w) { return byte_words::below(w, 0x20); }));
}

BOOST_AUTO_TEST_SUITE_END()
