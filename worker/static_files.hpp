// Static files under --root: GET and HEAD with validators, conditional and range requests,
// index files, directory redirects and precompressed siblings. Owns the HTTP decisions for
// files; leaves opening to file_cache and moving the bytes to the loop (file_body).
#pragma once

#include <string>

#include "worker/descriptor_budget.hpp"
#include "worker/file_cache.hpp"
#include "worker/router.hpp"
#include "worker/static_rules.hpp"

namespace ringfork::worker {

struct static_options {
    std::string index = "index.html"; ///< Served for a directory request ending in '/'.
    bool serve_dotfiles = false;      ///< Otherwise any path segment starting with '.' is 404.
    bool autoindex = false;           ///< Directory listing when there is no index file.
    std::string prefix = "/";         ///< Where the root is mounted: paths start with it.
    std::size_t open_files = descriptor_budget::max_cache; ///< Descriptors the file cache may keep.
};

class static_handler final : public handler {
public:
    /// `root_fd` must stay open for the handler's life (the worker owns it).
    static_handler(int root_fd, static_options opts) : cache_(root_fd, opts.open_files), opts_(std::move(opts)) {}

    void handle(const request_view& req, http::response_writer& w, deferred& later) override;

private:
    void serve_file(const request_view& req, http::response_writer& w, file_body& stream,
                    const std::shared_ptr<open_file>& file, std::string_view relative);
    void list_directory(const request_view& req, http::response_writer& w, std::string_view relative);
    /// Writes the answer to a lookup that failed: 404, 403, or 503 or 500 with a log line.
    static void write_failure(http::response_writer& w, file_cache::status what, int err, std::string_view relative);
    void serve_ranges(const request_view& req, http::response_writer& w, file_body& stream,
                      const std::shared_ptr<open_file>& chosen, const static_rules::range_result& range,
                      std::string_view type);

    file_cache cache_;
    static_options opts_;
    std::string boundary_; ///< multipart/byteranges boundary: random, one per worker.
};

/// A multipart/byteranges boundary: a fixed prefix and 64 random bits in hex.
[[nodiscard]] std::string make_boundary();

/// True when any segment of `path` starts with '.'.
[[nodiscard]] bool has_dot_segment(std::string_view path) noexcept;

} // namespace ringfork::worker
