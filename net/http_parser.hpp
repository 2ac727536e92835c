// HTTP/1.1 request-head parser and body decoders (RFC 9112), with no I/O.
// Owns syntax, framing and limits; leaves routing, buffering and timeouts to the worker.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace ringfork::http {

/// Request methods the server knows; anything else well-formed is `other` (501).
enum class method : std::uint8_t { get, head, post, put, delete_, options, patch, trace, connect, other };

/// How the message body is delimited (RFC 9112 §6.3).
enum class body_framing : std::uint8_t { none, content_length, chunked };

/// Named limits; a request over one of them gets the status named beside it.
struct limits {
    std::size_t max_request_line = 8192;  ///< 414 when exceeded.
    std::size_t max_header_bytes = 16384; ///< Whole head incl. request line; 431 when exceeded.
    std::size_t max_headers = 64;         ///< Header field lines; 431 when exceeded.
    std::uint64_t max_body = 1 << 20;     ///< Declared or decoded body bytes; 413 when exceeded.
};

/// One header field; views point into the caller's input buffer.
struct header {
    std::string_view name;
    std::string_view value; ///< Leading/trailing OWS removed.
};

inline constexpr std::size_t max_header_slots = 128;

/// A parsed request head. Views are valid while the input buffer is.
struct request {
    method verb = method::other;
    std::string_view method_text;
    std::string_view target;   ///< Raw request-target as sent (absolute-form kept whole).
    std::string_view path;     ///< Path part of the target (origin-form, or taken from absolute-form); "*" for OPTIONS *.
    std::string_view query;    ///< After '?', without it; empty if none.
    std::string_view host;     ///< Host header, or the authority of an absolute-form target (which wins).
    int version_minor = 1;     ///< 0 or 1 (only HTTP/1.x is accepted).
    bool keep_alive = true;    ///< From version and Connection tokens.
    bool expect_continue = false;
    body_framing framing = body_framing::none;
    std::uint64_t content_length = 0; ///< Valid when framing == content_length.
    /// Only the first header_count are set: the slots are left uninitialised, so a request
    /// made for every read costs nothing for the 128 it may never use.
    union {
        header headers[max_header_slots];
    };
    std::size_t header_count = 0;

    request() noexcept {}

    /// First header with this name (case-insensitive), or empty view.
    [[nodiscard]] std::string_view find(std::string_view name) const noexcept;
};

/// What a log line shows of a request; views into wherever the request's bytes are kept.
struct request_summary {
    std::string_view method;
    std::string_view target;
    std::string_view referer;
    std::string_view user_agent;
    int version_minor = 1;
};

/// The summary of a parsed request (views into the same buffer as `r`).
[[nodiscard]] request_summary summarize(const request& r) noexcept;

enum class parse_status : std::uint8_t { complete, need_more, error };

/// Outcome of one parse call. On `complete`, `consumed` is the head length in bytes
/// (the body, if any, starts there). On `error`, `status` is the HTTP status to answer
/// with (400, 413, 414, 431, 501, 505, ...) and the connection is closed afterwards.
struct parse_result {
    parse_status state = parse_status::need_more;
    std::uint16_t status = 0;
    std::size_t consumed = 0;
};

/// Parses one request head from the start of `in`. Leading empty lines (CRLF) before the
/// request line are skipped and counted in `consumed`. Needs no state between calls: on
/// need_more, call again with more bytes appended. Never reads past `in`.
[[nodiscard]] parse_result parse_request(std::span<const char> in, request& out, const limits& lim) noexcept;

/// Incremental chunked-body decoder (RFC 9112 §7.1); keeps state across input pieces.
class chunked_decoder {
public:
    enum class state_t : std::uint8_t { size, ext, size_lf, data, data_cr, data_lf, trailer, trailer_lf, done, error };

    struct step {
        std::size_t consumed = 0;      ///< Input bytes used by this call.
        std::size_t produced = 0;      ///< Decoded body bytes written to `out` by this call.
        bool done = false;             ///< Last chunk and trailers fully read.
        std::uint16_t error_status = 0;///< Non-zero: 400 (syntax/overflow) or 413 (over max_body).
    };

    explicit chunked_decoder(std::uint64_t max_body) noexcept : max_body_(max_body) {}

    /// Decodes from `in` into `out` (in place is allowed: out.data() == in.data()).
    /// Stops when `out` is full, input runs out, the body ends, or on error.
    [[nodiscard]] step feed(std::span<const char> in, std::span<char> out) noexcept;

    [[nodiscard]] std::uint64_t total() const noexcept { return total_; }

private:
    state_t state_ = state_t::size;
    std::uint64_t chunk_left_ = 0;
    std::uint64_t total_ = 0;
    std::uint64_t max_body_;
    std::uint32_t line_bytes_ = 0;    ///< Bytes of the current size/ext/trailer line, bounded.
    std::uint32_t trailer_bytes_ = 0; ///< Whole trailer section so far, bounded.
    std::uint16_t error_status_ = 0;  ///< Repeated by every feed() after an error.
    bool saw_digit_ = false;
    bool ext_open_ = false;           ///< A ';' was seen on this size line (only BWS may precede it).
    bool ext_named_ = false;          ///< The extension after the last ';' has a name character.
    bool trailer_colon_ = false;      ///< The current trailer line has reached its ':'.
};

/// Percent-decodes `raw_path` once into `out` and removes dot-segments (RFC 3986 §5.2.4).
/// Returns the normalised length, or -1 for a bad escape, an encoded NUL, a raw control
/// byte (< 0x20), or a path that does not start with '/'. `out` must hold raw_path.size()
/// bytes (-1 otherwise) and may alias raw_path. Empty segments ("//") are kept.
/// An encoded '/' (%2F) is decoded to '/' before dot-segment removal, so "..%2f" can
/// never climb above the root: dot-segments never go above "/".
[[nodiscard]] long normalize_path(std::string_view raw_path, std::span<char> out) noexcept;

} // namespace ringfork::http
