// Re-framing for the proxy (RFC 9110 §7.6, RFC 9112): the request head sent upstream and
// the response head sent to the client are written by ringfork from parsed fields, never
// passed through as bytes, so a framing ambiguity cannot cross. Hop-by-hop fields are
// dropped both ways, forwarding fields are set. Owns field selection and framing lines;
// leaves the I/O and the bodies to the proxy source. No I/O, so it is tested without sockets.
#pragma once

#include <cstdint>
#include <string_view>

#include "net/address.hpp"
#include "net/byte_buffer.hpp"
#include "net/http_parser.hpp"
#include "net/http_response.hpp"
#include "net/http_response_parser.hpp"

namespace ringfork::worker {

/// The request line and fields for the upstream, without framing fields and the empty
/// line: origin-form target, HTTP/1.1, Host kept (`fallback_host` for an HTTP/1.0 request
/// without one), hop-by-hop fields (Connection and the fields it names, Keep-Alive, TE,
/// Transfer-Encoding, Upgrade, Trailer, Proxy-*), Content-Length and Expect dropped,
/// X-Forwarded-For appended with `peer`, X-Forwarded-Proto and X-Forwarded-Host set.
void write_upstream_head(const http::request& req, const net::peer_ip& peer, std::string_view fallback_host,
                         net::byte_buffer& out);

/// How the body sent upstream is framed.
enum class upstream_body : std::uint8_t { none, length, chunked };

/// Ends the head written by write_upstream_head: the framing field, then the empty line.
void finish_upstream_head(net::byte_buffer& out, upstream_body framing, std::uint64_t length = 0);

/// How the body sent to the client is framed, chosen by ringfork.
enum class client_body : std::uint8_t {
    none,    ///< No body: HEAD, 204, 304.
    length,  ///< Content-Length known from the upstream.
    chunked, ///< Length unknown, HTTP/1.1 client: re-chunked.
    close,   ///< Length unknown, HTTP/1.0 client: ends with the connection.
};

/// Writes the client's response head for `h` through `w` (whose context gives the
/// client's version, keep-alive and HEAD): the upstream's status and reason, its
/// end-to-end fields (hop-by-hop, framing, Server and Date dropped; the writer sets the
/// last two), then the framing ringfork chose. Returns that framing; for `close` the
/// writer's keep-alive is off.
client_body write_client_head(const http::response_head& h, http::response_writer& w);

/// A chunk of a re-chunked body: "SIZE\r\n" before it.
void append_chunk_line(net::byte_buffer& out, std::size_t size);

} // namespace ringfork::worker
