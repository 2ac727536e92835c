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
#include "worker/body_source.hpp"

namespace ringfork::worker {

/// A set of methods, one bit per http::method.
using method_mask = std::uint16_t;

[[nodiscard]] constexpr method_mask bit(http::method m) noexcept { return method_mask(1u << unsigned(m)); }
inline constexpr method_mask get_head = bit(http::method::get) | bit(http::method::head);

/// A route's named parameters, as matched: views into the normalised path.
struct route_params {
    static constexpr std::size_t max = 16;
    struct item {
        std::string_view name;
        std::string_view value;
    };
    item items[max];
    std::size_t count = 0;

    /// The value of parameter `name`, or an empty view.
    [[nodiscard]] std::string_view get(std::string_view name) const noexcept
    {
        for (std::size_t i = 0; i < count; ++i)
            if (items[i].name == name)
                return items[i].value;
        return {};
    }
};

/// A request as a handler sees it.
struct request_view {
    const http::request& head;
    std::string_view path;        ///< Percent-decoded once, dot-segments removed.
    std::span<const char> body;   ///< Decoded body (empty when none).
    std::uint64_t now_ms = 0;     ///< The loop's monotonic clock for this turn.
    const route_params* params = nullptr; ///< The matched route's parameters.
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
};

/// Routes by method and path pattern. A pattern is '/'-separated segments, each a literal,
/// `{name}` (one non-empty segment) or, last only, `{*name}` (the rest of the path, maybe
/// empty). At each segment a literal beats a parameter, which beats a catch-all; a route
/// that fails further on falls back to the next candidate. HEAD is answered by the GET
/// handler when no HEAD handler is set.
class router {
public:
    /// What a path matched: the handler for the method (null when the path matched but the
    /// method is not allowed: 405), the Allow value and the parameters.
    struct match {
        handler* target = nullptr;
        const std::string* allow = nullptr;
        route_params params;
    };

    router();
    ~router();
    router(router&&) noexcept;
    router& operator=(router&&) noexcept;

    /// Adds `h` for every method in `methods` at `pattern`; "" on success, else why the
    /// pattern or the method is refused (bad syntax, or a handler already set). `h` must
    /// outlive the router.
    [[nodiscard]] std::string add(std::string_view pattern, method_mask methods, handler* h);
    /// Adds a prefix route: `prefix` (ending in '/') and everything under it.
    [[nodiscard]] std::string add_prefix(std::string_view prefix, method_mask methods, handler* h);
    /// Matches a normalised path; false when nothing matches (404).
    [[nodiscard]] bool find(std::string_view path, http::method m, match& out) const noexcept;
    /// Allow value for OPTIONS *: every method some route accepts, plus OPTIONS.
    [[nodiscard]] const std::string& allow_all() const noexcept { return allow_all_; }

private:
    struct node;

    std::unique_ptr<node> root_;
    std::string allow_all_ = "OPTIONS";
    method_mask all_methods_ = 0;
};

/// "GET, HEAD, POST" for a mask.
[[nodiscard]] std::string allow_header(method_mask m);

} // namespace ringfork::worker
