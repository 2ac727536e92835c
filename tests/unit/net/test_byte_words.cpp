// Word-at-a-time byte tests: each agrees with a byte-by-byte look, for every byte value at
// every position of strings shorter than, equal to and longer than a word.
#include <boost/test/unit_test.hpp>

#include <string>

#include "net/byte_words.hpp"

using namespace ringfork::net;

namespace {

bool any_below(std::string_view s, std::uint8_t bound)
{
    for (char c : s)
        if (static_cast<unsigned char>(c) < bound)
            return true;
    return false;
}

} // namespace

BOOST_AUTO_TEST_SUITE(byte_words_suite)

BOOST_AUTO_TEST_CASE(below_agrees_with_a_byte_by_byte_look_everywhere)
{
    int mismatches = 0;
    for (std::size_t len = 1; len <= 19; ++len)
        for (std::size_t at = 0; at < len; ++at)
            for (int b = 0; b < 256; ++b) {
                std::string s(len, 'x');
                s[at] = static_cast<char>(b);
                for (const std::uint8_t bound : {std::uint8_t(0x0e), std::uint8_t(0x20), std::uint8_t('a')}) {
                    const bool word = byte_words::any(s, [&](std::uint64_t w) { return byte_words::below(w, bound); });
                    if (word != any_below(s, bound))
                        ++mismatches;
                }
            }
    BOOST_TEST(mismatches == 0);
}

BOOST_AUTO_TEST_CASE(a_low_byte_next_to_high_bytes_is_found_and_not_invented)
{
    // Borrows run from a low byte towards higher ones: bytes at or above 0x80 around it
    // must neither hide it nor be marked themselves.
    std::string s(16, '\xff');
    BOOST_TEST(!byte_words::any(s, [](std::uint64_t w) { return byte_words::below(w, 0x20); }));
    s[5] = '\x1f';
    BOOST_TEST(byte_words::any(s, [](std::uint64_t w) { return byte_words::below(w, 0x20); }));
    s[5] = '\x80';
    BOOST_TEST(!byte_words::any(s, [](std::uint64_t w) { return byte_words::below(w, 0x20); }));
}

BOOST_AUTO_TEST_CASE(equal_finds_the_byte_at_every_position_and_nothing_else)
{
    int mismatches = 0;
    for (std::size_t len = 1; len <= 19; ++len)
        for (std::size_t at = 0; at < len; ++at)
            for (int b = 0; b < 256; ++b) {
                std::string s(len, 'x');
                s[at] = static_cast<char>(b);
                const bool word = byte_words::any(s, [](std::uint64_t w) { return byte_words::equal(w, '%'); });
                if (word != (b == '%'))
                    ++mismatches;
            }
    BOOST_TEST(mismatches == 0);
}

BOOST_AUTO_TEST_CASE(an_empty_string_has_no_byte)
{
    BOOST_TEST(!byte_words::any({}, [](std::uint64_t w) { return byte_words::below(w, 0x20); }));
}

BOOST_AUTO_TEST_SUITE_END()
