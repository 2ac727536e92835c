// Fuzz target for net/http_parser: every input goes through parse_request, the chunked decoder
// (whole, split at pseudo-random points, and in place) and normalize_path; invariants abort().
// Exact statuses are the unit tests' job; this file only checks what must hold for any input.
#include "net/http_parser.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

using namespace ringfork::http;

namespace {

[[noreturn]] void fail(const char* what, int line) {
    std::fprintf(stderr, "fuzz_parser: invariant broken at line %d: %s\n", line, what);
    std::abort();
}

#define FUZZ_CHECK(cond)                              \
    do {                                              \
        if (!(cond)) fail(#cond, __LINE__);           \
    } while (0)

// Deterministic split points derived from the input itself, so a crash replays exactly.
struct split_rng {
    std::uint64_t state;
    explicit split_rng(std::string_view data) : state(0xcbf29ce484222325ull) {
        for (const char c : data) state = (state ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
        state |= 1;
    }
    std::size_t below(std::size_t bound) { // in [0, bound]
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return bound == 0 ? 0 : static_cast<std::size_t>(state % (bound + 1));
    }
};

bool inside(std::string_view view, std::string_view buffer) {
    return view.empty() || (view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size());
}

bool known_error_status(std::uint16_t status) {
    switch (status) {
    case 400: case 413: case 414: case 417: case 431: case 501: case 505:
        return true;
    default:
        return false;
    }
}

// RFC 3986 §5.2.4 written literally with strings, as an oracle for normalize_path.
std::string reference_remove_dots(std::string in) {
    std::string out;
    const auto pop = [&out] {
        const std::size_t slash = out.rfind('/');
        out.resize(slash == std::string::npos ? 0 : slash);
    };
    while (!in.empty()) {
        if (in.rfind("/./", 0) == 0) in.erase(0, 2);
        else if (in == "/.") in = "/";
        else if (in.rfind("/../", 0) == 0) { in.erase(0, 3); pop(); }
        else if (in == "/..") { in = "/"; pop(); }
        else {
            const std::size_t next = in.find('/', 1);
            out += in.substr(0, next);
            in.erase(0, next == std::string::npos ? in.size() : next);
        }
    }
    return out.empty() ? "/" : out;
}

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// Same decoding rules as the header states; false where normalize_path must return -1.
bool reference_normalize(std::string_view raw, std::string& out) {
    if (raw.empty() || raw[0] != '/') return false;
    std::string decoded;
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (static_cast<unsigned char>(raw[i]) < 0x20) return false;
        if (raw[i] != '%') { decoded += raw[i]; continue; }
        if (raw.size() - i < 3 || hex_digit(raw[i + 1]) < 0 || hex_digit(raw[i + 2]) < 0) return false;
        const int byte = hex_digit(raw[i + 1]) * 16 + hex_digit(raw[i + 2]);
        if (byte == 0) return false;
        decoded += static_cast<char>(byte);
        i += 2;
    }
    out = reference_remove_dots(decoded);
    return true;
}

void check_normalize(std::string_view raw) {
    std::vector<char> out(raw.size() + 1);
    const long n = normalize_path(raw, {out.data(), raw.size()});
    std::string expected;
    const bool valid = reference_normalize(raw, expected);
    FUZZ_CHECK(valid == (n >= 0));
    if (n < 0) return;
    const std::string_view got(out.data(), static_cast<std::size_t>(n));
    FUZZ_CHECK(got.size() <= raw.size());
    FUZZ_CHECK(!got.empty() && got[0] == '/');
    FUZZ_CHECK(got.find("/../") == std::string_view::npos && got.find("/./") == std::string_view::npos);
    FUZZ_CHECK(!got.ends_with("/..") && !got.ends_with("/."));
    FUZZ_CHECK(got == expected);

    std::string in_place(raw);
    const long again = normalize_path(in_place, {in_place.data(), in_place.size()});
    FUZZ_CHECK(again == n && std::string_view(in_place).substr(0, static_cast<std::size_t>(n)) == got);
}

struct decode_outcome {
    std::string body;
    std::size_t consumed = 0;
    bool done = false;
    std::uint16_t error = 0;
};

// Feeds `wire` in pieces with output windows of random sizes; checks every step's contract.
decode_outcome decode_split(std::string_view wire, std::uint64_t max_body, split_rng& rng) {
    chunked_decoder dec(max_body);
    decode_outcome result;
    std::vector<char> out(wire.size() + 1);
    std::size_t pos = 0;
    while (pos < wire.size()) {
        const std::size_t piece = 1 + rng.below(wire.size() - pos - 1);
        const std::size_t room = 1 + rng.below(std::min<std::size_t>(wire.size(), 64));
        const auto st = dec.feed({wire.data() + pos, piece}, {out.data(), room});
        FUZZ_CHECK(st.consumed <= piece);
        FUZZ_CHECK(st.produced <= room);
        FUZZ_CHECK(st.produced <= st.consumed);
        FUZZ_CHECK(st.consumed > 0 || st.done || st.error_status != 0); // progress whenever possible
        result.body.append(out.data(), st.produced);
        pos += st.consumed;
        if (st.error_status != 0) {
            FUZZ_CHECK(st.error_status == 400 || st.error_status == 413);
            result.error = st.error_status;
            break;
        }
        if (st.done) {
            result.done = true;
            break;
        }
    }
    result.consumed = pos;
    FUZZ_CHECK(dec.total() == result.body.size());
    FUZZ_CHECK(dec.total() <= max_body);
    return result;
}

void check_chunked(std::string_view wire, std::uint64_t max_body, split_rng& rng) {
    chunked_decoder whole(max_body);
    std::vector<char> out(wire.size() + 1);
    const auto st = whole.feed({wire.data(), wire.size()}, {out.data(), wire.size()});
    FUZZ_CHECK(st.consumed <= wire.size());
    FUZZ_CHECK(st.produced <= st.consumed);
    FUZZ_CHECK(st.done || st.error_status != 0 || st.consumed == wire.size());
    const std::string_view body(out.data(), st.produced);

    // The decoder is a byte-wise state machine: how the input is cut must not matter.
    const decode_outcome split = decode_split(wire, max_body, rng);
    FUZZ_CHECK(split.error == st.error_status);
    FUZZ_CHECK(split.done == st.done);
    FUZZ_CHECK(split.body == body);
    FUZZ_CHECK(split.consumed == st.consumed);

    std::string in_place(wire);
    chunked_decoder same(max_body);
    const auto ip = same.feed({in_place.data(), in_place.size()}, {in_place.data(), in_place.size()});
    FUZZ_CHECK(ip.consumed == st.consumed && ip.produced == st.produced && ip.done == st.done);
    FUZZ_CHECK(std::string_view(in_place).substr(0, ip.produced) == body);
}

void check_request(std::string_view wire, const limits& lim, split_rng& rng) {
    request req;
    const parse_result res = parse_request({wire.data(), wire.size()}, req, lim);
    if (res.state == parse_status::need_more) {
        FUZZ_CHECK(res.consumed == 0 && res.status == 0);
        FUZZ_CHECK(wire.size() < lim.max_header_bytes); // a full window always decides
        return;
    }
    if (res.state == parse_status::error) {
        FUZZ_CHECK(known_error_status(res.status));
        return;
    }
    FUZZ_CHECK(res.consumed > 0 && res.consumed <= wire.size());
    FUZZ_CHECK(res.consumed <= lim.max_header_bytes);
    const std::string_view head = wire.substr(0, res.consumed);
    FUZZ_CHECK(inside(req.method_text, head) && !req.method_text.empty());
    FUZZ_CHECK(inside(req.target, head) && !req.target.empty());
    FUZZ_CHECK(inside(req.path, head) || req.path == "/");
    FUZZ_CHECK(inside(req.query, head) && inside(req.host, head));
    FUZZ_CHECK(req.version_minor == 0 || req.version_minor == 1);
    FUZZ_CHECK(req.header_count <= std::min(lim.max_headers, max_header_slots));
    for (std::size_t i = 0; i < req.header_count; ++i) {
        FUZZ_CHECK(inside(req.headers[i].name, head) && inside(req.headers[i].value, head));
        FUZZ_CHECK(req.headers[i].name.find(':') == std::string_view::npos);
        FUZZ_CHECK(req.find(req.headers[i].name).data() != nullptr);
    }
    FUZZ_CHECK(req.framing != body_framing::chunked || req.version_minor == 1);
    FUZZ_CHECK(req.framing != body_framing::content_length || req.content_length <= lim.max_body);

    // Stateless: the head alone parses the same; one byte less is not yet a head.
    request again;
    const parse_result exact = parse_request({wire.data(), res.consumed}, again, lim);
    FUZZ_CHECK(exact.state == parse_status::complete && exact.consumed == res.consumed);
    const parse_result shorter = parse_request({wire.data(), res.consumed - 1}, again, lim);
    FUZZ_CHECK(shorter.state == parse_status::need_more);

    if (!req.path.empty() && req.path[0] == '/') check_normalize(req.path);
    const std::string_view rest = wire.substr(res.consumed);
    if (req.framing == body_framing::chunked) check_chunked(rest, lim.max_body, rng);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view wire(reinterpret_cast<const char*>(data), size);
    split_rng rng(wire);

    check_request(wire, limits{}, rng);
    limits tight;
    tight.max_request_line = 48;
    tight.max_header_bytes = 160;
    tight.max_headers = 4;
    tight.max_body = 32;
    check_request(wire, tight, rng);

    check_chunked(wire, 1 << 20, rng);
    check_chunked(wire, 16, rng);
    check_normalize(wire.substr(0, wire.find_first_of("? ")));
    return 0;
}
