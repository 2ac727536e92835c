// HTTP/1.1 response-head parser.
#include "net/http_response_parser.hpp"

#include <cstring>

#include "net/http_syntax.hpp"

namespace ringfork::http {

namespace {

using namespace syntax;

/// What the fields said about framing and persistence; the rules apply once the head ends.
struct response_facts {
    bool content_length_seen = false;
    bool te_seen = false;
    bool te_chunked = false; ///< Transfer-Encoding was exactly "chunked".
    bool connection_close = false;
    bool connection_keep_alive = false;
    std::string_view why;
};

constexpr std::uint16_t refuse = 1; ///< Any non-zero value stops read_fields; `why` says what.

// status-line = HTTP-version SP status-code SP [ reason-phrase ]. A missing reason with or
// without its SP is accepted: the phrase carries nothing a recipient may act on (§4).
std::string_view parse_status_line(std::string_view line, response_head& out) noexcept
{
    if (line.size() < 12 || line.substr(0, 5) != "HTTP/" || !has(line[5], c_digit) || line[6] != '.' ||
        !has(line[7], c_digit) || line[8] != ' ')
        return "status line";
    if (line[5] != '1')
        return "HTTP version";
    out.version_minor = line[7] == '0' ? 0 : 1;
    if (!has(line[9], c_digit) || !has(line[10], c_digit) || !has(line[11], c_digit))
        return "status code";
    out.status = unsigned(line[9] - '0') * 100 + unsigned(line[10] - '0') * 10 + unsigned(line[11] - '0');
    if (out.status < 100 || out.status > 599)
        return "status code";
    std::string_view rest = line.substr(12);
    if (!rest.empty()) {
        if (rest[0] != ' ')
            return "status code";
        rest.remove_prefix(1);
        for (const char c : rest)
            if (!has(c, c_value))
                return "reason phrase"; // NUL, bare CR, controls
    }
    out.reason = rest;
    return {};
}

// Framing fields are taken strictly: one Content-Length with one value, and a
// Transfer-Encoding that is exactly "chunked" on one line. Anything else could be read
// two ways, or needs a coding the proxy does not undo.
std::uint16_t apply_field(const header& h, response_facts& facts, response_head& out) noexcept
{
    switch (h.name.size()) {
    case 10:
        if (!equals_lower(h.name, "connection"))
            break;
        for_each_element(h.value, [&](std::string_view token) {
            if (equals_lower(token, "close"))
                facts.connection_close = true;
            else if (equals_lower(token, "keep-alive"))
                facts.connection_keep_alive = true;
            return true;
        });
        break;
    case 14:
        if (!equals_lower(h.name, "content-length"))
            break;
        if (facts.content_length_seen) {
            facts.why = "two Content-Length fields";
            return refuse;
        }
        if (h.value.find(',') != std::string_view::npos || !parse_content_length(h.value, out.content_length)) {
            facts.why = "Content-Length value";
            return refuse;
        }
        facts.content_length_seen = true;
        break;
    case 17:
        if (!equals_lower(h.name, "transfer-encoding"))
            break;
        if (facts.te_seen || !equals_lower(h.value, "chunked")) {
            facts.why = "Transfer-Encoding other than chunked";
            return refuse;
        }
        facts.te_seen = facts.te_chunked = true;
        break;
    default:
        break;
    }
    return 0;
}

std::string_view finish_head(response_head& out, const response_facts& facts, bool head_request) noexcept
{
    if (facts.te_seen && facts.content_length_seen)
        return "Transfer-Encoding with Content-Length";
    if (facts.te_seen && out.version_minor == 0)
        return "Transfer-Encoding in HTTP/1.0";
    out.length_declared = facts.content_length_seen;
    out.keep_alive = !facts.connection_close && (out.version_minor == 1 || facts.connection_keep_alive);
    if (head_request || out.status < 200 || out.status == 204 || out.status == 304)
        out.framing = response_framing::none; // RFC 9112 §6.3 rules 1 and 2
    else if (facts.te_chunked)
        out.framing = response_framing::chunked;
    else if (facts.content_length_seen)
        out.framing = response_framing::content_length;
    else {
        out.framing = response_framing::until_close;
        out.keep_alive = false; // the close is what ends the body
    }
    return {};
}

void reset(response_head& out) noexcept
{
    out.version_minor = 1;
    out.status = 0;
    out.reason = {};
    out.keep_alive = true;
    out.framing = response_framing::none;
    out.content_length = 0;
    out.length_declared = false;
    out.header_count = 0;
}

constexpr response_result malformed(std::string_view why) noexcept { return {response_parse::malformed, 0, why}; }

} // namespace

std::string_view response_head::find(std::string_view name) const noexcept
{
    return find_field(headers, header_count, name);
}

response_result parse_response(std::span<const char> in, response_head& out, bool head_request,
                               const response_limits& lim) noexcept
{
    const char* const p = in.data();
    const std::size_t n = in.size();
    reset(out);

    // Status line: its LF must lie within the head's limit.
    const std::size_t window = n < lim.max_head_bytes ? n : lim.max_head_bytes;
    const auto* lf = static_cast<const char*>(std::memchr(p, '\n', window));
    if (lf == nullptr)
        return {n >= lim.max_head_bytes ? response_parse::too_large : response_parse::need_more, 0, {}};
    const auto lf_at = static_cast<std::size_t>(lf - p);
    const std::size_t line_end = lf_at > 0 && p[lf_at - 1] == '\r' ? lf_at - 1 : lf_at;
    if (const std::string_view why = parse_status_line({p, line_end}, out); !why.empty())
        return malformed(why);
    std::size_t pos = lf_at + 1;

    response_facts facts;
    const std::size_t max_fields = lim.max_headers < max_header_slots ? lim.max_headers : max_header_slots;
    const fields_result fields = read_fields(p, n, pos, lim.max_head_bytes, max_fields, out.headers,
                                             out.header_count,
                                             [&](const header& h) { return apply_field(h, facts, out); });
    switch (fields.end) {
    case fields_end::done:
        break;
    case fields_end::need_more:
        return {response_parse::need_more, 0, {}};
    case fields_end::too_large:
        return {response_parse::too_large, 0, {}};
    case fields_end::bad_line:
        return malformed("field line"); // obs-fold, NUL, bare CR, space before the colon
    case fields_end::refused:
        return malformed(facts.why);
    }
    if (const std::string_view why = finish_head(out, facts, head_request); !why.empty())
        return malformed(why);
    return {response_parse::complete, pos, {}};
}

} // namespace ringfork::http
