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

namespace ringfork::worker {

/// A set of methods, one bit per http::method.
using method_mask = std::uint16_t;

[[nodiscard]] constexpr method_mask bit(http::method m) noexcept { return method_mask(1u << unsigned(m)); }
inline constexpr method_mask get_head = bit(http::method::get) | bit(http::method::head);

struct open_file;

/// A request as a handler sees it.
struct request_view {
    const http::request& head;
    std::string_view path;        ///< Percent-decoded once, dot-segments removed.
    std::span<const char> body;   ///< Decoded body (empty when none).
    std::uint64_t now_ms = 0;     ///< The loop's monotonic clock for this turn.
};

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

/// A response body the loop streams after the head: `length` bytes of `file` from `offset`,
/// then, for several ranges, the rest of `multipart`.
struct file_body {
    std::shared_ptr<open_file> file;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
    std::shared_ptr<multipart_body> multipart;
};

/// A job for the task pool. The handler writes nothing; the loop sends `payload` (a
/// job_request and the body) to the pool and writes the response when the job has ended
/// (or at once, 202, for an async job).
struct task_job {
    bool async = false;
    std::string id;       ///< The job id (also in the payload).
    std::string payload;  ///< ipc::job_request bytes followed by the request body.
    std::string method;   ///< For the access log: the request's method and target.
    std::string target;
    http::response_context context;
};

/// What a handler leaves for the loop after the part of the response it wrote.
struct deferred {
    file_body file; ///< A body to stream after the head the handler wrote.
    std::unique_ptr<task_job> task; ///< Or a job whose outcome is the whole response (rare: on the heap,
                                    ///< so idle connections stay small).
};

/// Produces one response into the writer: a whole one, a head whose body the loop then
/// streams from a file, or nothing yet (a task). Later pipelined requests wait for it.
class handler {
public:
    virtual ~handler() = default;
    /// Writes w.start(status), headers, then w.finish(body); or w.finish_head(n) and sets
    /// later.file; or writes nothing and sets later.task.
    virtual void handle(const request_view& req, http::response_writer& w, deferred& later) = 0;
};

/// Exact and prefix routes, tried in that order; the longest prefix wins.
class router {
public:
    struct route {
        std::string path;     ///< Exact path, or prefix ending in '/'.
        bool prefix = false;
        method_mask allowed = get_head;
        std::string allow;    ///< "GET, HEAD" for the 405 Allow header.
        handler* target = nullptr;
    };

    /// Adds an exact route. `h` must outlive the router.
    void add(std::string_view path, method_mask allowed, handler* h);
    /// Adds a prefix route ("/" matches everything not matched otherwise).
    void add_prefix(std::string_view prefix, method_mask allowed, handler* h);
    /// The route for a normalised path, or null (404).
    [[nodiscard]] const route* find(std::string_view path) const noexcept;
    [[nodiscard]] bool empty() const noexcept { return routes_.empty(); }
    /// Allow value for OPTIONS *: every method some route accepts, plus OPTIONS.
    [[nodiscard]] const std::string& allow_all() const noexcept { return allow_all_; }

private:
    void insert(route r);

    std::vector<route> routes_;
    std::string allow_all_ = "OPTIONS";
    method_mask all_methods_ = 0;
};

/// "GET, HEAD, POST" for a mask.
[[nodiscard]] std::string allow_header(method_mask m);

} // namespace ringfork::worker
