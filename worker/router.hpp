// Routing: a table from paths to handlers, and the handler interface every feature
// (demo routes, static files, stats, tasks) plugs into. Owns matching and the 405/501
// decision; leaves producing a response to the handler.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_parser.hpp"
#include "net/http_response.hpp"
#include "net/route_table.hpp"
#include "worker/body_source.hpp"

namespace ringfork::worker {

using http::bit;
using http::get_head;
using http::method_mask;
using http::route_params;

/// A request as a handler sees it.
struct request_view {
    const http::request& head;
    std::string_view path;        ///< Percent-decoded once, dot-segments removed.
    std::span<const char> body;   ///< Decoded body (empty when none).
    std::uint64_t now_ms = 0;     ///< The loop's monotonic clock for this turn.
    const route_params* params = nullptr; ///< The matched route's parameters.
    worker_env* env = nullptr;            ///< The worker's shared state (null in some tests).
    /// The body is not in `body`: it arrives later through the body source's context
    /// (source_context::body, take_body), because the handler streams bodies.
    bool body_streamed = false;
};

struct open_file;

/// The later parts of a multipart/byteranges body: each part's head (delimiter,
/// Content-Type, Content-Range) then its bytes of the file, then the closing delimiter.
struct multipart_body {
    struct part {
        std::string head;
        std::uint64_t offset = 0;
        std::uint64_t length = 0;
    };
    std::vector<part> parts; ///< After the first, which the handler writes itself.
    std::string trailer;     ///< "\r\n--boundary--\r\n".
    std::size_t next = 0;    ///< The next part to stream.
};

/// A response body streamed after the head: `length` bytes of `file` from `offset`, then,
/// for several ranges, the rest of `multipart`.
struct file_body {
    std::shared_ptr<open_file> file;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    std::shared_ptr<multipart_body> multipart;
};

/// What a handler leaves for the connection after the part of the response it wrote.
struct deferred {
    /// A body to stream from a file after the head the handler wrote (a file_stream).
    file_body file;
    /// Or any other producer of the rest of the response (or all of it); null for a
    /// response the handler wrote whole.
    std::unique_ptr<body_source> source;
};

/// Produces one response into the writer: a whole one, or a head and a body source that
/// streams the body, or only a body source that writes everything later (a task). Later
/// pipelined requests wait for the source.
class handler {
public:
    virtual ~handler() = default;
    /// Writes w.start(status), headers, then w.finish(body); or w.finish_head(n) and sets
    /// later.source; or writes nothing and sets later.source.
    virtual void handle(const request_view& req, http::response_writer& w, deferred& later) = 0;
    /// True for a handler that takes request bodies as a stream: its requests are
    /// dispatched as soon as the head is in, and it must set later.source, which takes the
    /// body as it arrives. (A handler that answers at once instead has the connection
    /// closed after that answer, since its body is never read.)
    [[nodiscard]] virtual bool streams_body() const noexcept { return false; }
};

/// The worker's route table: patterns (see http::route_table) to handlers.
class router {
public:
    /// What a path matched: the table's match (Allow value, parameters) and the handler for
    /// the method (null when the path matched but the method is not allowed: 405).
    struct match : http::route_table::match {
        handler* handler_for_method = nullptr;
    };

    /// Adds `h` for every method in `methods` at `pattern`; "" or why it is refused. `h`
    /// must outlive the router.
    [[nodiscard]] std::string add(std::string_view pattern, method_mask methods, handler* h);
    /// Adds a prefix route: `prefix` (ending in '/') and everything under it.
    [[nodiscard]] std::string add_prefix(std::string_view prefix, method_mask methods, handler* h);
    /// Matches a normalised path; false when nothing matches (404).
    [[nodiscard]] bool find(std::string_view path, http::method m, match& out) const noexcept;
    /// Allow value for OPTIONS *: every method some route accepts, plus OPTIONS.
    [[nodiscard]] const std::string& allow_all() const noexcept { return table_.allow_all(); }

private:
    http::route_table table_;
    std::vector<handler*> handlers_;
};

} // namespace ringfork::worker
