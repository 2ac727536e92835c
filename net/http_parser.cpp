// HTTP/1.1 request-head parser, chunked-body decoder and path normaliser (RFC 9112, RFC 3986).
// Owns byte-level syntax, framing rules and limits; leaves replies, buffering and I/O to the worker.
#include "net/http_parser.hpp"
#include "net/byte_words.hpp"
#include "net/http_syntax.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace ringfork::http {
namespace {

using namespace syntax;

constexpr std::size_t max_leading_empty_lines = 8; // RFC 9112 §2.2 asks for at least one.
constexpr std::uint32_t max_chunk_size_line = 4096;
constexpr std::uint32_t max_trailer_bytes = 8192;
constexpr std::uint32_t max_chunk_size_digits = 16; // 16 hex digits fill a uint64_t exactly.

constexpr std::uint16_t bad_request = 400;

std::size_t saturating_add(std::size_t a, std::size_t b) noexcept {
    return a > std::numeric_limits<std::size_t>::max() - b ? std::numeric_limits<std::size_t>::max() : a + b;
}

method method_from(std::string_view m) noexcept {
    switch (m.size()) {
    case 3:
        if (m == "GET") return method::get;
        if (m == "PUT") return method::put;
        break;
    case 4:
        if (m == "HEAD") return method::head;
        if (m == "POST") return method::post;
        break;
    case 5:
        if (m == "PATCH") return method::patch;
        if (m == "TRACE") return method::trace;
        break;
    case 6:
        if (m == "DELETE") return method::delete_;
        break;
    case 7:
        if (m == "OPTIONS") return method::options;
        if (m == "CONNECT") return method::connect;
        break;
    default:
        break;
    }
    return method::other;
}

// uri-host [ ":" port ] (RFC 3986 §3.2.2–3.2.3). IP literals are checked loosely (hex
// digits, ':' and '.'), IPvFuture is refused; reg-name may not be empty here.
bool valid_host_port(std::string_view s, bool port_required) noexcept {
    std::size_t i = 0;
    if (!s.empty() && s[0] == '[') {
        const std::size_t close = s.find(']');
        if (close == std::string_view::npos || close < 3) return false;
        bool colon = false;
        for (i = 1; i < close; ++i) {
            if (s[i] == ':') colon = true;
            else if (s[i] != '.' && hex_value(s[i]) == 0xff) return false;
        }
        if (!colon) return false;
        i = close + 1;
    } else {
        for (; i < s.size() && s[i] != ':'; ++i) {
            if (!has(s[i], c_host)) return false;
            if (s[i] == '%' && (s.size() - i < 3 || hex_value(s[i + 1]) == 0xff || hex_value(s[i + 2]) == 0xff))
                return false;
        }
        if (i == 0) return false;
    }
    if (i == s.size()) return !port_required;
    if (s[i] != ':') return false;
    const std::size_t port_start = ++i;
    for (; i < s.size(); ++i)
        if (!has(s[i], c_digit)) return false;
    return !port_required || i > port_start;
}

// Facts gathered over the header lines; cross-field rules are applied once the head ends.
struct head_facts {
    bool absolute_form = false;
    unsigned host_count = 0;
    bool host_empty = false;
    bool content_length_seen = false;
    std::uint64_t content_length = 0;
    bool te_seen = false;
    unsigned te_chunked = 0;   // times "chunked" was listed
    bool te_last_chunked = false;
    bool te_unknown = false;   // a coding other than chunked
    bool connection_close = false;
    bool connection_keep_alive = false;
    bool expect_other = false;
};

void split_path_query(std::string_view t, request& req) noexcept {
    const std::size_t q = t.find('?');
    req.path = t.substr(0, q);
    req.query = q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
}

// Applies the request-target form rules of RFC 9112 §3.2.
std::uint16_t classify_target(request& req, head_facts& facts) noexcept {
    const std::string_view t = req.target;
    if (t[0] == '/') {
        if (req.verb == method::connect) return bad_request;
        split_path_query(t, req);
        return 0;
    }
    if (t == "*") {
        if (req.verb != method::options) return bad_request;
        req.path = t;
        return 0;
    }
    if (req.verb == method::connect) // authority-form: host and port, nothing else
        return valid_host_port(t, true) ? 0 : bad_request;

    // absolute-form; its authority replaces Host (RFC 9112 §3.2.2).
    const std::size_t scheme = starts_with_lower(t, "http://") ? 7 : starts_with_lower(t, "https://") ? 8 : 0;
    if (scheme == 0) return bad_request;
    std::string_view rest = t.substr(scheme);
    const std::size_t authority_end = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, authority_end);
    if (!valid_host_port(authority, false)) return bad_request; // also refuses userinfo and an empty host
    req.host = authority;
    facts.absolute_form = true;
    rest.remove_prefix(authority.size());
    if (rest.empty() || rest[0] == '?') {
        req.path = "/";
        req.query = rest.empty() ? std::string_view{} : rest.substr(1);
    } else {
        split_path_query(rest, req);
    }
    return 0;
}

// request-line = method SP request-target SP HTTP-version, single spaces only.
std::uint16_t parse_request_line(std::string_view line, request& req, head_facts& facts) noexcept {
    std::size_t i = 0;
    while (i < line.size() && has(line[i], c_tchar)) ++i;
    if (i == 0 || i == line.size() || line[i] != ' ') return bad_request;
    req.method_text = line.substr(0, i);
    req.verb = method_from(req.method_text);

    const std::size_t target_start = ++i;
    while (i < line.size() && has(line[i], c_target)) ++i;
    if (i == target_start || i == line.size() || line[i] != ' ') return bad_request;
    req.target = line.substr(target_start, i - target_start);

    const std::string_view version = line.substr(i + 1);
    if (version.size() != 8 || version.substr(0, 5) != "HTTP/" || !has(version[5], c_digit) || version[6] != '.' ||
        !has(version[7], c_digit))
        return bad_request;
    if (version[5] != '1') return 505;
    // RFC 9110 §2.5: a later 1.x minor version is handled as the highest one we speak.
    req.version_minor = version[7] == '0' ? 0 : 1;
    return classify_target(req, facts);
}

// Records what one header line says about framing, host, persistence and expectations.
std::uint16_t apply_field(const header& h, request& req, head_facts& facts) noexcept {
    switch (h.name.size()) {
    case 4:
        if (!equals_lower(h.name, "host")) break;
        if (++facts.host_count > 1) return bad_request;
        if (h.value.empty()) facts.host_empty = true;
        else if (!valid_host_port(h.value, false)) return bad_request;
        if (!facts.absolute_form) req.host = h.value;
        break;
    case 6:
        if (!equals_lower(h.name, "expect")) break;
        if (equals_lower(h.value, "100-continue")) req.expect_continue = req.version_minor == 1; // §10.1.1: ignored for 1.0
        else facts.expect_other = true;
        break;
    case 10:
        if (!equals_lower(h.name, "connection")) break;
        for_each_element(h.value, [&](std::string_view token) {
            if (equals_lower(token, "close")) facts.connection_close = true;
            else if (equals_lower(token, "keep-alive")) facts.connection_keep_alive = true;
            return true;
        });
        break;
    case 14: {
        if (!equals_lower(h.name, "content-length")) break;
        std::uint64_t length = 0;
        if (!parse_content_length(h.value, length)) return bad_request;
        if (facts.content_length_seen && length != facts.content_length) return bad_request;
        facts.content_length_seen = true;
        facts.content_length = length;
        break;
    }
    case 17:
        if (!equals_lower(h.name, "transfer-encoding")) break;
        facts.te_seen = true;
        for_each_element(h.value, [&](std::string_view coding) {
            const bool chunked = equals_lower(coding, "chunked");
            facts.te_chunked += chunked ? 1 : 0;
            facts.te_unknown = facts.te_unknown || !chunked;
            facts.te_last_chunked = chunked;
            return true;
        });
        break;
    default:
        break;
    }
    return 0;
}

// Cross-field rules, in order: Host (400), framing (400/501/413), Expect (417).
std::uint16_t finish_head(request& req, const head_facts& facts, const limits& lim) noexcept {
    if (req.version_minor == 1) { // RFC 9112 §3.2: exactly one Host in HTTP/1.1
        if (facts.host_count == 0) return bad_request;
        if (facts.host_empty && !facts.absolute_form) return bad_request;
    }
    if (facts.te_seen) {
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing.
        if (req.version_minor == 0) return bad_request;
        // §6.3 lets a server either reject TE+CL or let TE win and close afterwards;
        // rejecting is the choice that leaves no room for request smuggling.
        if (facts.content_length_seen) return bad_request;
        // §6.3: chunked must be final (and, being non-idempotent, appear once), else 400.
        if (facts.te_chunked != 1 || !facts.te_last_chunked) return bad_request;
        if (facts.te_unknown) return 501; // e.g. "gzip, chunked": well framed, not supported
        req.framing = body_framing::chunked;
    } else if (facts.content_length_seen) {
        if (facts.content_length > lim.max_body) return 413;
        req.framing = body_framing::content_length;
        req.content_length = facts.content_length;
    }
    if (facts.expect_other) return 417;
    req.keep_alive = !facts.connection_close && (req.version_minor == 1 || facts.connection_keep_alive);
    return 0;
}

void reset(request& req) noexcept {
    req.verb = method::other;
    req.method_text = {};
    req.target = {};
    req.path = {};
    req.query = {};
    req.host = {};
    req.version_minor = 1;
    req.keep_alive = true;
    req.expect_continue = false;
    req.framing = body_framing::none;
    req.content_length = 0;
    req.header_count = 0; // the slots themselves are overwritten as lines are parsed
}

constexpr parse_result error_result(std::uint16_t status) noexcept { return {parse_status::error, status, 0}; }
constexpr parse_result need_more_result{parse_status::need_more, 0, 0};

} // namespace

std::string_view request::find(std::string_view name) const noexcept {
    return find_field(headers, header_count, name);
}

// Line ends are found with memchr inside a window bounded by the limits, so an over-long
// line or head is reported as soon as the window is full rather than when it finally ends.
parse_result parse_request(std::span<const char> in, request& out, const limits& lim) noexcept {
    const char* const p = in.data();
    const std::size_t n = in.size();
    reset(out);

    std::size_t pos = 0;
    for (std::size_t skipped = 0;; ++skipped) {
        if (pos == n) return need_more_result;
        std::size_t line = 0;
        if (p[pos] == '\n') {
            line = 1;
        } else if (p[pos] == '\r') {
            if (pos + 1 == n) return need_more_result;
            if (p[pos + 1] != '\n') return error_result(bad_request); // bare CR
            line = 2;
        } else {
            break;
        }
        if (skipped == max_leading_empty_lines) return error_result(bad_request);
        pos += line;
    }

    // Request line: at most max_request_line bytes before CRLF (or a bare LF).
    const std::size_t line_window = saturating_add(lim.max_request_line, 2);
    const auto* lf = static_cast<const char*>(std::memchr(p + pos, '\n', std::min(n - pos, line_window)));
    if (lf == nullptr) {
        if (n - pos >= line_window) return error_result(414);
        if (n >= lim.max_header_bytes) return error_result(431);
        return need_more_result;
    }
    std::size_t lf_at = static_cast<std::size_t>(lf - p);
    std::size_t line_end = p[lf_at - 1] == '\r' ? lf_at - 1 : lf_at; // lf_at > pos: empty lines were skipped
    if (line_end - pos > lim.max_request_line) return error_result(414);
    if (lf_at >= lim.max_header_bytes) return error_result(431);

    head_facts facts;
    if (const auto status = parse_request_line({p + pos, line_end - pos}, out, facts)) return error_result(status);
    pos = lf_at + 1;

    // Field lines until the empty line.
    const std::size_t max_fields = std::min(lim.max_headers, max_header_slots);
    const fields_result fields = read_fields(p, n, pos, lim.max_header_bytes, max_fields, out.headers,
                                             out.header_count,
                                             [&](const header& h) { return apply_field(h, out, facts); });
    switch (fields.end) {
    case fields_end::done: break;
    case fields_end::need_more: return need_more_result;
    case fields_end::too_large: return error_result(431);
    case fields_end::bad_line: return error_result(bad_request);
    case fields_end::refused: return error_result(fields.status);
    }

    if (const auto status = finish_head(out, facts, lim)) return error_result(status);
    return {parse_status::complete, 0, pos};
}

// Chunk lines must end in CRLF here: RFC 9112 §2.2 lets a recipient accept a bare LF only
// for the start-line and fields, and lenient chunk parsing is a known smuggling vector.
chunked_decoder::step chunked_decoder::feed(std::span<const char> in, std::span<char> out) noexcept {
    step result;
    if (state_ == state_t::error) {
        result.error_status = error_status_;
        return result;
    }
    std::size_t i = 0;
    const auto fail = [&](std::uint16_t status) {
        state_ = state_t::error;
        error_status_ = status;
        result.error_status = status;
        result.consumed = i;
        return result;
    };

    while (i < in.size() && state_ != state_t::done) {
        const char c = in[i];
        switch (state_) {
        case state_t::size:
            if (const std::uint8_t v = hex_value(c); v != 0xff) {
                if (line_bytes_ == max_chunk_size_digits) return fail(bad_request); // would overflow
                chunk_left_ = (chunk_left_ << 4) | v;
                saw_digit_ = true;
                ++line_bytes_;
            } else if (!saw_digit_) {
                return fail(bad_request);
            } else if (c == '\r') {
                state_ = state_t::size_lf;
            } else if (c == ';' || is_ows(c)) { // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] )
                ext_open_ = c == ';';
                ext_named_ = false;
                state_ = state_t::ext;
                ++line_bytes_;
            } else {
                return fail(bad_request);
            }
            ++i;
            break;
        case state_t::ext: // skipped, but only BWS may come before the first ';'
            if (c == '\r') {
                if (!ext_open_ || !ext_named_) return fail(bad_request); // ext-name is 1*tchar
                state_ = state_t::size_lf;
            } else if (c == ';') {
                if (ext_open_ && !ext_named_) return fail(bad_request);
                ext_open_ = true;
                ext_named_ = false;
            } else if (!ext_open_ ? !is_ows(c) : !has(c, c_value)) {
                return fail(bad_request);
            } else if (ext_open_ && !ext_named_ && !is_ows(c)) {
                if (!has(c, c_tchar)) return fail(bad_request);
                ext_named_ = true;
            }
            if (++line_bytes_ > max_chunk_size_line) return fail(bad_request);
            ++i;
            break;
        case state_t::size_lf:
            if (c != '\n') return fail(bad_request);
            line_bytes_ = 0;
            if (chunk_left_ == 0) {
                state_ = state_t::trailer;
            } else {
                if (chunk_left_ > max_body_ - total_) return fail(413); // refuse before copying any of it
                state_ = state_t::data;
            }
            ++i;
            break;
        case state_t::data: {
            const std::size_t room = out.size() - result.produced;
            if (room == 0) {
                result.consumed = i;
                return result;
            }
            const std::size_t take =
                static_cast<std::size_t>(std::min<std::uint64_t>(chunk_left_, std::min(in.size() - i, room)));
            // produced <= i always, so in-place decoding only ever moves bytes towards the front.
            std::memmove(out.data() + result.produced, in.data() + i, take);
            result.produced += take;
            total_ += take;
            chunk_left_ -= take;
            i += take;
            if (chunk_left_ == 0) state_ = state_t::data_cr;
            break;
        }
        case state_t::data_cr:
            if (c != '\r') return fail(bad_request);
            state_ = state_t::data_lf;
            ++i;
            break;
        case state_t::data_lf:
            if (c != '\n') return fail(bad_request);
            state_ = state_t::size;
            saw_digit_ = false;
            ext_open_ = false;
            ++i;
            break;
        case state_t::trailer: // trailer fields: field-line syntax checked, then dropped
            if (c == '\r') {
                if (line_bytes_ > 0 && !trailer_colon_) return fail(bad_request); // no ':'
                state_ = state_t::trailer_lf;
            } else if (!has(c, c_value) || (line_bytes_ == 0 && is_ows(c))) {
                return fail(bad_request); // NUL, bare LF, controls, obs-fold
            } else {
                if (!trailer_colon_) {
                    if (c == ':') {
                        if (line_bytes_ == 0) return fail(bad_request); // empty field-name
                        trailer_colon_ = true;
                    } else if (!has(c, c_tchar)) {
                        return fail(bad_request); // field-name is a token
                    }
                }
                ++line_bytes_;
            }
            if (++trailer_bytes_ > max_trailer_bytes) return fail(bad_request);
            ++i;
            break;
        case state_t::trailer_lf:
            if (c != '\n') return fail(bad_request);
            state_ = line_bytes_ == 0 ? state_t::done : state_t::trailer;
            line_bytes_ = 0;
            trailer_colon_ = false;
            ++i;
            break;
        case state_t::done:
        case state_t::error:
            break;
        }
    }
    result.consumed = i;
    result.done = state_ == state_t::done;
    return result;
}

// Two passes over `out`: decode once, then remove dot-segments in place. The write index
// never passes the read index, so `out` may alias `raw_path`.
long normalize_path(std::string_view raw_path, std::span<char> out) noexcept {
    if (raw_path.empty() || raw_path[0] != '/' || out.size() < raw_path.size()) return -1;
    // The common case, eight bytes at a time: no control byte, no '%' and no '.' at all,
    // so nothing to decode or remove.
    if (!net::byte_words::any(raw_path, [](std::uint64_t w) {
            using namespace net::byte_words;
            return below(w, 0x20) | equal(w, '%') | equal(w, '.');
        })) {
        std::memmove(out.data(), raw_path.data(), raw_path.size());
        return static_cast<long>(raw_path.size());
    }

    std::size_t len = 0;
    bool dot_after_slash = false; // only then can a dot-segment be there to remove
    for (std::size_t i = 0; i < raw_path.size(); ++i) {
        char c = raw_path[i];
        if (static_cast<unsigned char>(c) < 0x20) return -1;
        if (c == '%') {
            if (raw_path.size() - i < 3) return -1;
            const std::uint8_t hi = hex_value(raw_path[i + 1]);
            const std::uint8_t lo = hex_value(raw_path[i + 2]);
            if (hi == 0xff || lo == 0xff) return -1;
            c = static_cast<char>((hi << 4) | lo);
            if (c == '\0') return -1;
            i += 2;
        }
        dot_after_slash = dot_after_slash || (c == '.' && out[len - 1] == '/');
        out[len++] = c;
    }
    if (!dot_after_slash)
        return static_cast<long>(len); // the common case: nothing to remove

    // RFC 3986 §5.2.4 over "/segment" pieces; `read` always sits on a '/'.
    char* const buf = out.data();
    std::size_t read = 0;
    std::size_t write = 0;
    while (read < len) {
        const auto* slash = static_cast<const char*>(std::memchr(buf + read + 1, '/', len - read - 1));
        const std::size_t seg_end = slash ? static_cast<std::size_t>(slash - buf) : len;
        const std::size_t seg_len = seg_end - read - 1;
        const bool last = seg_end == len;
        if (seg_len == 1 && buf[read + 1] == '.') {
            if (last) buf[write++] = '/'; // "/a/." -> "/a/"
        } else if (seg_len == 2 && buf[read + 1] == '.' && buf[read + 2] == '.') {
            while (write > 0 && buf[--write] != '/') {} // drop the last output segment; stops at the root
            if (last) buf[write++] = '/';
        } else {
            std::memmove(buf + write, buf + read, seg_end - read);
            write += seg_end - read;
        }
        read = seg_end;
    }
    if (write == 0) buf[write++] = '/';
    return static_cast<long>(write);
}

request_summary summarize(const request& r) noexcept
{
    return {r.method_text, r.target, r.find("Referer"), r.find("User-Agent"), r.version_minor};
}

} // namespace ringfork::http
