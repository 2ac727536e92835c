// HTTP/1.1 response-head parser (RFC 9112 §4, §6.3), with no I/O: what an upstream
// answered, and how its body is delimited. As strict as the request parser, since a
// response that could be read two ways must never be passed on. Owns status-line and
// framing rules; leaves buffering, interim responses and relaying to the proxy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "net/http_parser.hpp"

namespace ringfork::http {

/// How a response body is delimited.
enum class response_framing : std::uint8_t {
    none,           ///< No body: HEAD, 1xx, 204, 304.
    content_length, ///< Exactly content_length bytes.
    chunked,        ///< Transfer-Encoding: chunked.
    until_close,    ///< Neither: the body ends when the upstream closes the connection.
};

/// Limits of a response head; a head over them is too_large.
struct response_limits {
    std::size_t max_head_bytes = 32 * 1024; ///< Status line and fields, with the empty line.
    std::size_t max_headers = max_header_slots;
};

/// A parsed response head. Views point into the caller's input buffer.
struct response_head {
    int version_minor = 1;   ///< 0 or 1 (HTTP/1.x only).
    unsigned status = 0;     ///< 100 to 599.
    std::string_view reason; ///< May be empty.
    bool keep_alive = true;  ///< The upstream keeps the connection open after this response.
    response_framing framing = response_framing::none;
    std::uint64_t content_length = 0; ///< Declared length (also for HEAD, where no body follows).
    bool length_declared = false;     ///< A Content-Length field was present.
    header headers[max_header_slots];
    std::size_t header_count = 0;

    /// An interim (1xx) response: another head follows.
    [[nodiscard]] bool interim() const noexcept { return status < 200; }
    /// First header with this name (case-insensitive), or an empty view.
    [[nodiscard]] std::string_view find(std::string_view name) const noexcept;
};

enum class response_parse : std::uint8_t { complete, need_more, malformed, too_large };

/// Outcome of one parse call. On complete, `consumed` is the head's length (the body, if
/// any, starts there); on malformed, `why` names what was wrong, for the log.
struct response_result {
    response_parse state = response_parse::need_more;
    std::size_t consumed = 0;
    std::string_view why;
};

/// Parses one response head from the start of `in`. `head_request`: the request was HEAD,
/// so no body follows whatever the fields say. Stateless: on need_more, call again with
/// more bytes appended. Never reads past `in`.
[[nodiscard]] response_result parse_response(std::span<const char> in, response_head& out, bool head_request,
                                             const response_limits& lim = {}) noexcept;

} // namespace ringfork::http
