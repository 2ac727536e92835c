// Static files under --root.
#include "worker/static_files.hpp"

#include <dirent.h>
#include <sys/random.h>
#include <unistd.h>

#include <ctime>

#include <algorithm>
#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "net/error.hpp"
#include "net/log.hpp"
#include "worker/static_rules.hpp"

namespace ringfork::worker {

namespace {

/// HTML-escapes a file name for the directory listing.
std::string escape_html(std::string_view s)
{
    std::string out;
    for (char c : s) {
        switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default: out += c;
        }
    }
    return out;
}

} // namespace

std::string make_boundary()
{
    // Random, so it cannot be guessed into a file's bytes; getrandom never fails for 8 bytes
    // once the pool is ready, and a worker starts long after that.
    std::uint64_t bits = 0;
    if (::getrandom(&bits, sizeof bits, 0) != static_cast<ssize_t>(sizeof bits))
        bits = static_cast<std::uint64_t>(::getpid()) * 0x9E3779B97F4A7C15ull ^ static_cast<std::uint64_t>(time(nullptr));
    return fmt::format("ringfork-{:016x}", bits);
}

bool has_dot_segment(std::string_view path) noexcept
{
    for (std::size_t i = 0; i < path.size(); ++i)
        if (path[i] == '.' && (i == 0 || path[i - 1] == '/'))
            return true;
    return false;
}

void static_handler::handle(const request_view& req, http::response_writer& w, deferred& later)
{
    file_body& stream = later.file;
    const std::string_view path = req.path; // normalised: starts with '/', no dot-segments
    if (!opts_.serve_dotfiles && has_dot_segment(path)) {
        http::write_error(w, 404);
        return;
    }
    std::string relative(path.substr(std::min(opts_.prefix.size(), path.size())));
    auto r = cache_.open(relative, req.now_ms);
    if (r.what == file_cache::status::ok && r.file->directory) {
        if (!path.ends_with('/')) {
            // RFC 9110 §15.4.2: the slashed URL is where relative links in the index resolve.
            w.start(301);
            w.header_value("Location", static_rules::directory_location(path, req.head.query));
            w.header_value("Content-Type", "text/plain; charset=utf-8");
            w.finish("Moved Permanently\n");
            return;
        }
        const std::string dir = relative;
        relative += opts_.index;
        r = cache_.open(relative, req.now_ms);
        if (r.what == file_cache::status::not_found && opts_.autoindex) {
            list_directory(req, w, dir);
            return;
        }
        if (r.what == file_cache::status::ok && r.file->directory)
            r.what = file_cache::status::not_found;
    }
    if (r.what == file_cache::status::ok)
        serve_file(req, w, stream, r.file, relative);
    else
        write_failure(w, r.what, r.err, relative);
}

void static_handler::write_failure(http::response_writer& w, file_cache::status what, int err,
                                   std::string_view relative)
{
    switch (what) {
    case file_cache::status::ok: // not a failure; never passed
    case file_cache::status::not_found:
        http::write_error(w, 404);
        return;
    case file_cache::status::forbidden:
        http::write_error(w, 403);
        return;
    case file_cache::status::busy:
        // Out of descriptors with nothing idle to drop: every one is a connection or a
        // body being sent. Some will be free again soon.
        net::log::error("{}", net::sys_error("openat2", relative, err));
        http::write_error(w, 503, "Retry-After: 1\r\n");
        return;
    case file_cache::status::error:
        net::log::error("{}", net::sys_error("openat2", relative, err));
        http::write_error(w, 500);
        return;
    }
}

void static_handler::serve_file(const request_view& req, http::response_writer& w, file_body& stream,
                                const std::shared_ptr<open_file>& file, std::string_view relative)
{
    cache_.refresh_siblings(*file, relative, req.now_ms);
    const bool has_variants = file->br || file->gz;
    std::shared_ptr<open_file> chosen = file;
    std::string_view coding;
    if (has_variants) {
        const std::string_view accept = req.head.find("Accept-Encoding");
        if (file->br && static_rules::accepts_encoding(accept, "br")) {
            chosen = file->br;
            coding = "br";
        } else if (file->gz && static_rules::accepts_encoding(accept, "gzip")) {
            chosen = file->gz;
            coding = "gzip";
        }
    }
    const open_file& f = *chosen;
    auto common_headers = [&] {
        w.header_value("Last-Modified", {f.last_modified, sizeof f.last_modified});
        w.header_value("ETag", f.etag);
        if (has_variants)
            w.header_value("Vary", "Accept-Encoding");
    };
    switch (static_rules::evaluate(req.head, f.etag, f.mtime_s)) {
    case static_rules::precondition::not_modified:
        w.start(304);
        common_headers();
        w.finish_without_body();
        return;
    case static_rules::precondition::failed:
        http::write_error(w, 412);
        return;
    case static_rules::precondition::proceed:
        break;
    }
    std::uint64_t offset = 0, length = f.size;
    static_rules::range_result range;
    if (req.head.verb == http::method::get) {
        const std::string_view range_header = req.head.find("Range");
        if (!range_header.empty())
            range = static_rules::evaluate_range(range_header, req.head.find("If-Range"), f.etag, f.mtime_s, f.size);
    }
    if (range.kind == static_rules::range_kind::unsatisfiable) {
        const std::string content_range = fmt::format("Content-Range: bytes */{}\r\n", f.size);
        http::write_error(w, 416, content_range);
        return;
    }
    w.start(range.kind == static_rules::range_kind::full ? 200 : 206);
    if (range.kind == static_rules::range_kind::multipart) {
        if (boundary_.empty())
            boundary_ = make_boundary();
        w.header_value("Content-Type", fmt::format("multipart/byteranges; boundary={}", boundary_));
    } else {
        w.header_value("Content-Type", static_rules::content_type(relative));
    }
    common_headers();
    w.header_value("Accept-Ranges", "bytes");
    if (!coding.empty())
        w.header_value("Content-Encoding", coding);
    if (range.kind == static_rules::range_kind::multipart) {
        serve_ranges(req, w, stream, chosen, range, static_rules::content_type(relative));
        return;
    }
    if (range.kind == static_rules::range_kind::partial) {
        offset = range.range.first;
        length = range.range.last - range.range.first + 1;
        char buf[80];
        auto res = fmt::format_to_n(buf, sizeof buf, "bytes {}-{}/{}", range.range.first, range.range.last, f.size);
        w.header_value("Content-Range", {buf, res.size});
    }
    w.finish_head(length);
    if (w.rejected() || req.head.verb == http::method::head || length == 0)
        return;
    stream.file = chosen;
    stream.offset = offset;
    stream.length = length;
}

// Several disjoint ranges: a multipart/byteranges body (RFC 9110 §14.6), each part with its
// own Content-Type and Content-Range. The first part's head goes out with the response
// head; the loop streams the ranges and writes the later heads and the closing delimiter.
void static_handler::serve_ranges(const request_view& req, http::response_writer& w, file_body& stream,
                                  const std::shared_ptr<open_file>& chosen, const static_rules::range_result& range,
                                  std::string_view type)
{
    const std::uint64_t size = chosen->size;
    auto part_head = [&](std::size_t i) {
        const static_rules::byte_range& r = range.ranges[i];
        return fmt::format("{}--{}\r\nContent-Type: {}\r\nContent-Range: bytes {}-{}/{}\r\n\r\n", i ? "\r\n" : "",
                           boundary_, type, r.first, r.last, size);
    };
    auto body = std::make_shared<multipart_body>();
    const std::string first = part_head(0);
    std::uint64_t total = first.size();
    for (std::size_t i = 0; i < range.count; ++i) {
        const std::uint64_t length = range.ranges[i].last - range.ranges[i].first + 1;
        total += length;
        if (i > 0) {
            body->parts.push_back({part_head(i), range.ranges[i].first, length});
            total += body->parts.back().head.size();
        }
    }
    body->trailer = fmt::format("\r\n--{}--\r\n", boundary_);
    total += body->trailer.size();
    w.finish_head(total);
    if (w.rejected() || req.head.verb == http::method::head)
        return;
    w.buffer().append(first);
    stream.file = chosen;
    stream.offset = range.ranges[0].first;
    stream.length = range.ranges[0].last - range.ranges[0].first + 1;
    stream.multipart = std::move(body);
}

void static_handler::list_directory(const request_view& req, http::response_writer& w, std::string_view relative)
{
    // Listings are opt-in (--autoindex) and bounded to the first 10,000 entries. The
    // directory is opened afresh through the confined open: a cached entry only said that
    // the name was a directory beneath the root when it was checked, not that it is now.
    net::beneath_result opened = cache_.open_directory(relative);
    if (!opened.fd) {
        write_failure(w, file_cache::classify(opened.err), opened.err, relative);
        return;
    }
    DIR* dir = fdopendir(opened.fd.get());
    if (!dir) {
        net::log::error("{}", net::sys_error("fdopendir", relative, errno));
        http::write_error(w, 500);
        return;
    }
    (void)opened.fd.release(); // closedir() closes it
    std::vector<std::string> names;
    while (dirent* e = readdir(dir)) {
        std::string_view name = e->d_name;
        if (name == "." || name == ".." || (!opts_.serve_dotfiles && name.starts_with('.')))
            continue;
        names.emplace_back(name);
        if (e->d_type == DT_DIR)
            names.back() += '/';
        if (names.size() >= 10'000)
            break;
    }
    closedir(dir);
    std::sort(names.begin(), names.end());
    std::string title = escape_html(req.path);
    std::string page = fmt::format("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Index of {0}</title>"
                                   "</head>\n<body><h1>Index of {0}</h1>\n<ul>\n",
                                   title);
    if (req.path != "/")
        page += "<li><a href=\"../\">../</a></li>\n";
    for (const auto& n : names) {
        const bool is_dir = n.ends_with('/');
        const std::string_view base = is_dir ? std::string_view(n).substr(0, n.size() - 1) : std::string_view(n);
        page += "<li><a href=\"";
        static_rules::append_percent_encoded(page, base, static_rules::uri_part::segment);
        page += fmt::format("{}\">{}</a></li>\n", is_dir ? "/" : "", escape_html(n));
    }
    page += "</ul>\n</body></html>\n";
    w.start(200);
    w.header_value("Content-Type", "text/html; charset=utf-8");
    w.finish(page);
}

} // namespace ringfork::worker
