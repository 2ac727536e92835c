// The HTTP rules a static-file response follows: validators, conditional requests, byte
// ranges, content types and content codings (RFC 9110), as pure functions without I/O
// (except reading /etc/mime.types once). Leaves opening, statting and sending files to the handler.
#pragma once

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/http_parser.hpp"

namespace ringfork::worker::static_rules {

/// Strong validator "\"<size hex>-<mtime_ns hex>[-<variant>]\"" (variant "br", "gz" for precompressed siblings).
[[nodiscard]] std::string make_etag(std::uint64_t size, std::int64_t mtime_ns, std::string_view variant = {});

/// Parses an HTTP-date in IMF-fixdate, obsolete RFC 850 or asctime form (RFC 9110 §5.6.7); nullopt if invalid.
[[nodiscard]] std::optional<std::time_t> parse_http_date(std::string_view text) noexcept;

/// Outcome of the conditional headers: go on, answer 304, or answer 412.
enum class precondition : std::uint8_t { proceed, not_modified, failed };

/// Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in RFC 9110 §13.2.2 order
/// against the current representation (which exists: "*" matches).
[[nodiscard]] precondition evaluate(const http::request& req, std::string_view etag, std::time_t mtime) noexcept;

/// An inclusive byte range.
struct byte_range {
    std::uint64_t first = 0, last = 0;
};

/// Most range-specs evaluated; a longer Range header is ignored (the whole file is sent).
inline constexpr std::size_t max_ranges = 64;

/// full: 200 with the whole file; partial: 206 with `range`; multipart: 206 with
/// multipart/byteranges of `ranges`; unsatisfiable: 416 with "bytes */size".
enum class range_kind : std::uint8_t { full, partial, multipart, unsatisfiable };

struct range_result {
    range_kind kind = range_kind::full;
    byte_range range;              ///< Valid when kind == partial.
    std::size_t count = 0;         ///< multipart: how many of `ranges` are used (2 or more).
    byte_range ranges[max_ranges]; ///< multipart: disjoint, in ascending order.
};

/// Evaluates a GET's Range header (RFC 9110 §14.2) and If-Range (§13.1.5) for a file of `size` bytes.
/// Overlapping and adjacent ranges are coalesced (§14.6); what stays disjoint is multipart.
[[nodiscard]] range_result evaluate_range(std::string_view range, std::string_view if_range, std::string_view etag,
                                          std::time_t mtime, std::uint64_t size) noexcept;

/// Extension → Content-Type table: built-in web types first, then another mime.types text adds the rest
/// (static_rules_types.cpp).
class mime_table {
public:
    /// Built-in entries plus those of `mime_types_text` (the format of /etc/mime.types) not already present.
    explicit mime_table(std::string_view mime_types_text = {});
    /// Content-Type for `path` by its extension (case-insensitive), "application/octet-stream" if unknown.
    [[nodiscard]] std::string_view find(std::string_view path) const noexcept;
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }

private:
    void add(std::string_view ext, std::string_view type);

    std::vector<std::pair<std::string, std::string>> entries_; ///< (lower-case extension, type), sorted.
};

/// Content-Type from one process-wide table (built-ins plus /etc/mime.types, read on first use).
[[nodiscard]] std::string_view content_type(std::string_view path);

/// Which bytes stay as they are when percent-encoding (RFC 3986 §2): `segment` keeps only
/// unreserved characters (a file name in a relative href: no ':' to pass for a scheme);
/// `path` also keeps sub-delims, ':', '@' and '/'; `query` also keeps '?' and '%' (a query
/// is passed on already encoded).
enum class uri_part : std::uint8_t { segment, path, query };

/// Appends `s` with every byte that `part` does not keep written as %HH (upper-case hex).
void append_percent_encoded(std::string& out, std::string_view s, uri_part part);

/// The Location of the redirect from directory `path` (decoded and normalised, starting
/// with '/') to `path` + "/", as a URI-reference (RFC 9110 §10.2.2): the path encoded again,
/// then '?' and `query` (as received) when there is one. Never starts with "//", which a
/// client would read as another host.
[[nodiscard]] std::string directory_location(std::string_view path, std::string_view query);

/// Whether Accept-Encoding allows `coding` ("br", "gzip"): q=0 forbids, "*" stands for unlisted codings,
/// "x-gzip" counts as "gzip". An empty value (or an absent header) allows none.
[[nodiscard]] bool accepts_encoding(std::string_view accept_encoding, std::string_view coding) noexcept;

} // namespace ringfork::worker::static_rules
