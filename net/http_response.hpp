// HTTP/1.1 response heads: status lines, the cached Date header, and a writer that
// appends a whole response to a connection's output buffer without allocating per request.
// Owns wire format; leaves what to answer to the handlers.
#pragma once

#include <cstdint>
#include <ctime>
#include <string_view>

#include "net/byte_buffer.hpp"

namespace ringfork::http {

/// Reason phrase for a status code ("Not Found"); "Unknown" for unlisted codes.
[[nodiscard]] std::string_view reason_phrase(unsigned status) noexcept;

/// "Date: <IMF-fixdate>\r\n", formatted at most once per second.
class date_cache {
public:
    /// Re-formats when the second has changed. Cheap enough to call every loop turn.
    void update(std::time_t now) noexcept;
    /// The whole header line including CRLF.
    [[nodiscard]] std::string_view line() const noexcept { return {line_, line_len_}; }

private:
    std::time_t second_ = -1;
    char line_[48] = {};
    std::size_t line_len_ = 0;
};

/// Formats `t` as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") into `out` (29 bytes).
void format_http_date(std::time_t t, char out[29]) noexcept;

/// What a response depends on from its request.
struct response_context {
    int version_minor = 1;   ///< 0: keep-alive must be announced; the status line is HTTP/1.1 always.
    bool keep_alive = true;  ///< False adds "Connection: close"; the caller closes after sending.
    bool head = false;       ///< HEAD: the head is written, the body is not.
};

/// Appends one response to `out`: status line, Server, Date, then the caller's headers,
/// then Content-Length and Connection, then the body. Call in that order.
///
/// No header line ever carries CR, LF or NUL, whoever produced it (a file name, a task's
/// output, a library handler): a header with one of them, or with an empty name, is never
/// written. Instead everything this writer appended is cut off, a 500 with `Connection:
/// close` is written in its place, one log line names the header, and every later call
/// does nothing (rejected()). Bytes that were in `out` before the writer existed stay.
class response_writer {
public:
    response_writer(net::byte_buffer& out, const date_cache& date, const response_context& ctx) noexcept
        : out_(out), date_(date), ctx_(ctx), begin_(out.size())
    {
    }

    /// Status line and the headers every response carries.
    void start(unsigned status);
    /// The same with a reason phrase of the caller's (a relayed response's own); an empty
    /// one is replaced by the usual phrase.
    void start(unsigned status, std::string_view reason);
    /// One header line, checked for CR, LF and NUL (see above).
    void header(std::string_view name, std::string_view value);
    /// The same for a name that is a literal of ringfork's own ("Content-Type"): only the
    /// value, which may come from anywhere, is checked.
    void header_value(std::string_view literal_name, std::string_view value);
    /// Content-Length, Connection, the blank line and (unless HEAD) the body.
    void finish(std::string_view body);
    /// For bodies sent separately: writes Content-Length: `length` and ends the head.
    void finish_head(std::uint64_t length);
    /// Ends the head of a response that has no content at all (304): no Content-Length.
    void finish_without_body();
    /// Ends the head of a body whose length is not known yet: chunked for HTTP/1.1; for
    /// HTTP/1.0 no framing and Connection: close (the close ends the body). Returns whether
    /// the body is to be chunked.
    bool finish_head_unknown_length();

    [[nodiscard]] const response_context& context() const noexcept { return ctx_; }
    /// Overrides the keep-alive decision before finish() (a handler that must close).
    void set_keep_alive(bool on) noexcept { ctx_.keep_alive = on; }
    /// The status passed to start(), 0 before.
    [[nodiscard]] unsigned status() const noexcept { return status_; }
    /// Content bytes this response carries on the wire (0 for HEAD and 304).
    [[nodiscard]] std::uint64_t body_length() const noexcept { return body_length_; }
    /// Counts body bytes appended after the head by the caller (a streamed body).
    void count_body(std::uint64_t n) noexcept { body_length_ += ctx_.head || rejected_ ? 0 : n; }
    /// A header was refused: the response written is a complete 500 that closes the
    /// connection, and a body the caller meant to stream after the head must not follow.
    [[nodiscard]] bool rejected() const noexcept { return rejected_; }
    /// The buffer written to, for body bytes appended in pieces after finish_head() (never
    /// header lines: those go through header()). After a rejection, a scratch buffer that
    /// is never sent, so nothing a caller appends can follow the 500.
    [[nodiscard]] net::byte_buffer& buffer() noexcept { return rejected_ ? discarded_ : out_; }

private:
    /// Replaces the response with a 500 and logs `name`; `why` says what was wrong.
    void reject(std::string_view name, std::string_view why);

    net::byte_buffer& out_;
    const date_cache& date_;
    response_context ctx_;
    std::size_t begin_;     ///< Where this response starts in out_.
    unsigned status_ = 0;
    std::uint64_t body_length_ = 0;
    bool rejected_ = false;
    net::byte_buffer discarded_; ///< buffer() after a rejection; allocates only if written to.
};

/// A complete error response ("400 Bad Request" with a short text body); `extra_headers`
/// are whole lines ("Allow: GET\r\n"), each written through header(). The context decides
/// Connection and HEAD.
void write_error(response_writer& w, unsigned status, std::string_view extra_headers = {});

} // namespace ringfork::http
