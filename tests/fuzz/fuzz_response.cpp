// Fuzz target for net/http_response_parser: every input is parsed as an upstream's
// response head (as the answer to GET and to HEAD, with default and tight limits), and
// what must hold for any input is checked; invariants abort(). Exact outcomes are the unit
// tests' job.
#include "net/http_response_parser.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

using namespace ringfork::http;

namespace {

[[noreturn]] void fail(const char* what, int line)
{
    std::fprintf(stderr, "fuzz_response: invariant broken at line %d: %s\n", line, what);
    std::abort();
}

#define FUZZ_CHECK(cond)                                                                                             \
    do {                                                                                                             \
        if (!(cond))                                                                                                 \
            fail(#cond, __LINE__);                                                                                   \
    } while (0)

bool inside(std::string_view view, std::string_view buffer)
{
    return view.empty() || (view.data() >= buffer.data() && view.data() + view.size() <= buffer.data() + buffer.size());
}

response_result check(std::string_view wire, bool head_request, const response_limits& lim)
{
    response_head h;
    const response_result r = parse_response({wire.data(), wire.size()}, h, head_request, lim);
    switch (r.state) {
    case response_parse::need_more:
        FUZZ_CHECK(r.consumed == 0);
        FUZZ_CHECK(wire.size() < lim.max_head_bytes); // a full window always decides
        return r;
    case response_parse::too_large:
        FUZZ_CHECK(wire.size() >= lim.max_head_bytes || h.header_count >= lim.max_headers);
        return r;
    case response_parse::malformed:
        FUZZ_CHECK(!r.why.empty());
        return r;
    case response_parse::complete:
        break;
    }
    FUZZ_CHECK(r.consumed > 0 && r.consumed <= wire.size() && r.consumed <= lim.max_head_bytes);
    const std::string_view head = wire.substr(0, r.consumed);
    FUZZ_CHECK(h.status >= 100 && h.status <= 599);
    FUZZ_CHECK(h.version_minor == 0 || h.version_minor == 1);
    FUZZ_CHECK(inside(h.reason, head));
    FUZZ_CHECK(h.reason.find('\r') == std::string_view::npos && h.reason.find('\0') == std::string_view::npos);
    FUZZ_CHECK(h.header_count <= lim.max_headers);
    for (std::size_t i = 0; i < h.header_count; ++i) {
        FUZZ_CHECK(inside(h.headers[i].name, head) && inside(h.headers[i].value, head));
        FUZZ_CHECK(!h.headers[i].name.empty());
        FUZZ_CHECK(h.headers[i].value.find('\r') == std::string_view::npos);
        FUZZ_CHECK(h.headers[i].value.find('\n') == std::string_view::npos);
    }
    const bool bodiless = head_request || h.status < 200 || h.status == 204 || h.status == 304;
    FUZZ_CHECK(!bodiless || h.framing == response_framing::none);
    FUZZ_CHECK(h.framing != response_framing::until_close || !h.keep_alive);
    FUZZ_CHECK(h.framing != response_framing::chunked || h.version_minor == 1);
    FUZZ_CHECK(h.framing != response_framing::content_length || h.length_declared);
    FUZZ_CHECK(!(h.framing == response_framing::chunked && h.length_declared));

    // Stateless: the head alone parses the same; one byte less is not yet a head.
    response_head again;
    const response_result exact = parse_response({wire.data(), r.consumed}, again, head_request, lim);
    FUZZ_CHECK(exact.state == response_parse::complete && exact.consumed == r.consumed);
    FUZZ_CHECK(again.status == h.status && again.framing == h.framing && again.content_length == h.content_length);
    const response_result shorter = parse_response({wire.data(), r.consumed - 1}, again, head_request, lim);
    FUZZ_CHECK(shorter.state == response_parse::need_more);
    return r;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    const std::string_view wire(reinterpret_cast<const char*>(data), size);
    const response_limits wide;
    const response_result get = check(wire, false, wide);
    const response_result head = check(wire, true, wide);
    // Whether a body follows never changes where the head ends or whether it is valid.
    FUZZ_CHECK(get.state == head.state && get.consumed == head.consumed);
    response_limits tight;
    tight.max_head_bytes = 96;
    tight.max_headers = 3;
    (void)check(wire, false, tight);
    return 0;
}
