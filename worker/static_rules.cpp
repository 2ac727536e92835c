// The HTTP rules a static-file response follows (RFC 9110 §5.6.7, §8.4, §13, §14), as pure functions.
// Owns parsing and decisions; leaves files, status lines and sending to the static-file handler.
// Content types (mime_table, content_type) are in static_rules_types.cpp.
#include "worker/static_rules.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <iterator>
#include <limits>

#include "net/ascii.hpp"
#include "net/http_syntax.hpp"

namespace ringfork::worker::static_rules {
namespace {

static_assert(sizeof(std::time_t) >= 8, "HTTP-dates past 2038 need a 64-bit time_t");

using http::syntax::is_ows;
using http::syntax::trim_ows;
using net::ascii_lower;
using net::iequals;
using net::is_alnum;
using net::is_digit;

// ---- entity-tags (RFC 9110 §8.8.3) ----

struct entity_tag {
    bool weak = false;
    std::string_view opaque; ///< Including the quotes.
};

constexpr bool is_etagc(char ch) noexcept
{
    const auto c = static_cast<unsigned char>(ch);
    return c == 0x21 || (c >= 0x23 && c <= 0x7E) || c >= 0x80;
}

// Parses one entity-tag at the start of `s` and removes it; nullopt if malformed.
std::optional<entity_tag> take_etag(std::string_view& s) noexcept
{
    entity_tag tag;
    if (s.starts_with("W/")) {
        tag.weak = true;
        s.remove_prefix(2);
    }
    if (s.empty() || s.front() != '"')
        return std::nullopt;
    std::size_t end = 1;
    while (end < s.size() && is_etagc(s[end]))
        ++end;
    if (end == s.size() || s[end] != '"')
        return std::nullopt;
    tag.opaque = s.substr(0, end + 1);
    s.remove_prefix(end + 1);
    return tag;
}

std::optional<entity_tag> whole_etag(std::string_view s) noexcept
{
    auto tag = take_etag(s);
    return s.empty() ? tag : std::nullopt;
}

bool etag_equal(const entity_tag& a, const entity_tag& b, bool strong) noexcept
{
    return a.opaque == b.opaque && (!strong || (!a.weak && !b.weak));
}

// Whether an element of the list "#entity-tag" equals `current`. Elements after a malformed
// one are not looked at: a list we cannot read matches nothing further.
bool list_has(std::string_view list, const entity_tag& current, bool strong) noexcept
{
    for (;;) {
        while (!list.empty() && (is_ows(list.front()) || list.front() == ','))
            list.remove_prefix(1);
        if (list.empty())
            return false;
        const auto tag = take_etag(list);
        if (!tag)
            return false;
        if (etag_equal(*tag, current, strong))
            return true;
        list = trim_ows(list);
        if (!list.empty() && list.front() != ',')
            return false;
    }
}

// An empty field value counts as absent rather than as an empty list that nothing matches.
bool has_field(const http::request& req, std::string_view name) noexcept
{
    for (std::size_t i = 0; i < req.header_count; ++i)
        if (!req.headers[i].value.empty() && iequals(req.headers[i].name, name))
            return true;
    return false;
}

// If-Match / If-None-Match: a list may be split over several field lines, so all are read.
bool field_matches(const http::request& req, std::string_view name, const std::optional<entity_tag>& current,
                   bool strong) noexcept
{
    for (std::size_t i = 0; i < req.header_count; ++i) {
        const http::header& h = req.headers[i];
        if (h.value.empty() || !iequals(h.name, name))
            continue;
        if (h.value == "*" || (current && list_has(h.value, *current, strong)))
            return true;
    }
    return false;
}

// ---- HTTP-date (RFC 9110 §5.6.7) ----

constexpr std::string_view short_days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::string_view long_days[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};
constexpr std::string_view month_names = "JanFebMarAprMayJunJulAugSepOctNovDec";

struct date_cursor {
    std::string_view s;
    std::size_t i = 0;

    bool literal(std::string_view x) noexcept
    {
        if (s.substr(i).starts_with(x)) {
            i += x.size();
            return true;
        }
        return false;
    }
    bool digits(std::size_t n, int& out) noexcept
    {
        if (s.size() - i < n)
            return false;
        out = 0;
        for (std::size_t k = 0; k < n; ++k, ++i) {
            if (!is_digit(s[i]))
                return false;
            out = out * 10 + (s[i] - '0');
        }
        return true;
    }
    bool month(int& out) noexcept
    {
        for (int m = 0; m < 12; ++m)
            if (literal(month_names.substr(static_cast<std::size_t>(m) * 3, 3))) {
                out = m + 1;
                return true;
            }
        return false;
    }
    bool short_day() noexcept
    {
        return std::any_of(std::begin(short_days), std::end(short_days), [&](std::string_view d) { return literal(d); });
    }
    bool time_of_day(int& h, int& m, int& sec) noexcept
    {
        return digits(2, h) && literal(":") && digits(2, m) && literal(":") && digits(2, sec);
    }
};

constexpr bool is_leap(int y) noexcept { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr int days_in_month(int y, int m) noexcept
{
    constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(int y, int m, int d) noexcept
{
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const int yoe = y - era * 400;
    const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return std::int64_t{era} * 146097 + doe - 719468;
}

// ---- ranges (RFC 9110 §14.1) ----

// Reads 1*DIGIT at `i`, saturating at the maximum (a huge last-pos means "to the end").
bool take_u64(std::string_view s, std::size_t& i, std::uint64_t& out) noexcept
{
    constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    const std::size_t start = i;
    out = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
        const auto d = static_cast<std::uint64_t>(s[i] - '0');
        out = out > (max - d) / 10 ? max : out * 10 + d;
    }
    return i > start;
}

// If-Range holds one strong entity-tag or an HTTP-date; a weak tag never matches (§13.1.5).
bool if_range_matches(std::string_view if_range, std::string_view etag, std::time_t mtime) noexcept
{
    if (if_range.front() == '"' || if_range.starts_with("W/")) {
        const auto sent = whole_etag(if_range);
        const auto current = whole_etag(etag);
        return sent && current && etag_equal(*sent, *current, true);
    }
    const auto date = parse_http_date(if_range);
    return date && *date == mtime;
}

} // namespace

std::string make_etag(std::uint64_t size, std::int64_t mtime_ns, std::string_view variant)
{
    char buf[2 + 16 + 1 + 16];
    char* p = buf;
    *p++ = '"';
    p = std::to_chars(p, std::end(buf), size, 16).ptr;
    *p++ = '-';
    // Pre-1970 times print as their two's-complement bits: still unique, still opaque.
    p = std::to_chars(p, std::end(buf), static_cast<std::uint64_t>(mtime_ns), 16).ptr;
    std::string out(buf, p);
    if (!variant.empty()) {
        out += '-';
        out += variant;
    }
    out += '"';
    return out;
}

std::optional<std::time_t> parse_http_date(std::string_view text) noexcept
{
    date_cursor c{text};
    int day = 0, month = 0, year = 0, hour = 0, minute = 0, second = 0;
    bool ok = false;
    if (text.size() > 3 && text[3] == ',') { // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
        ok = c.short_day() && c.literal(", ") && c.digits(2, day) && c.literal(" ") && c.month(month) &&
             c.literal(" ") && c.digits(4, year) && c.literal(" ") && c.time_of_day(hour, minute, second) &&
             c.literal(" GMT");
    } else if (text.size() > 3 && text[3] == ' ') { // asctime: Sun Nov  6 08:49:37 1994
        ok = c.short_day() && c.literal(" ") && c.month(month) && c.literal(" ") &&
             (c.literal(" ") ? c.digits(1, day) : c.digits(2, day)) && c.literal(" ") &&
             c.time_of_day(hour, minute, second) && c.literal(" ") && c.digits(4, year);
    } else { // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
        ok = std::any_of(std::begin(long_days), std::end(long_days), [&](std::string_view d) { return c.literal(d); }) &&
             c.literal(", ") && c.digits(2, day) && c.literal("-") && c.month(month) && c.literal("-") &&
             c.digits(2, year) && c.literal(" ") && c.time_of_day(hour, minute, second) && c.literal(" GMT");
        // Two-digit years: 70-99 are 19xx, the rest 20xx (exact per §5.6.7's 50-year rule until 2020-2069).
        year += year >= 70 ? 1900 : 2000;
    }
    // The weekday is not checked against the date: senders get it wrong, and it adds nothing.
    if (!ok || c.i != text.size() || day < 1 || day > days_in_month(year, month) || hour > 23 || minute > 59 ||
        second > 60) // 60: a leap second, counted as the next minute's first
        return std::nullopt;
    const std::int64_t seconds = days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
    return static_cast<std::time_t>(seconds);
}

precondition evaluate(const http::request& req, std::string_view etag, std::time_t mtime) noexcept
{
    const auto current = whole_etag(etag);
    const bool get_or_head = req.verb == http::method::get || req.verb == http::method::head;

    if (has_field(req, "If-Match")) {
        if (!field_matches(req, "If-Match", current, true))
            return precondition::failed;
    } else if (const auto ius = parse_http_date(req.find("If-Unmodified-Since")); ius && mtime > *ius) {
        return precondition::failed;
    }

    if (has_field(req, "If-None-Match")) {
        if (field_matches(req, "If-None-Match", current, false))
            return get_or_head ? precondition::not_modified : precondition::failed;
    } else if (get_or_head) {
        if (const auto ims = parse_http_date(req.find("If-Modified-Since")); ims && mtime <= *ims)
            return precondition::not_modified;
    }
    return precondition::proceed;
}

range_result evaluate_range(std::string_view range, std::string_view if_range, std::string_view etag,
                            std::time_t mtime, std::uint64_t size) noexcept
{
    constexpr range_result full{};
    // Range units are case-insensitive (§14.1); "bytes" is the only one served.
    if (range.size() < 6 || !iequals(range.substr(0, 6), "bytes="))
        return full;
    if (!if_range.empty() && !if_range_matches(if_range, etag, mtime))
        return full;

    // Parse every range-spec before judging any: one malformed spec voids the header.
    const std::string_view set = range.substr(6);
    byte_range kept[max_ranges];
    std::size_t specs = 0, count = 0, i = 0;
    for (;;) {
        while (i < set.size() && (is_ows(set[i]) || set[i] == ','))
            ++i;
        if (i == set.size())
            break;
        if (++specs > max_ranges)
            return full;
        std::uint64_t first = 0, last = std::numeric_limits<std::uint64_t>::max();
        if (set[i] == '-') { // suffix-range: the last N bytes
            std::uint64_t suffix = 0;
            if (!take_u64(set, ++i, suffix))
                return full;
            if (suffix > 0 && size > 0)
                kept[count++] = {size - std::min(suffix, size), size - 1};
        } else {
            if (!take_u64(set, i, first) || i == set.size() || set[i++] != '-')
                return full;
            if (i < set.size() && is_digit(set[i]) && (!take_u64(set, i, last) || last < first))
                return full;
            if (first < size)
                kept[count++] = {first, std::min(last, size - 1)};
        }
        while (i < set.size() && is_ows(set[i]))
            ++i;
        if (i < set.size() && set[i] != ',')
            return full;
    }
    if (specs == 0)
        return full;
    if (count == 0) {
        range_result none;
        none.kind = range_kind::unsatisfiable;
        return none;
    }

    // Coalesce overlapping and adjacent ranges (at most 64, so the work is bounded); the
    // parts go out in ascending order. last <= size - 1, so last + 1 cannot overflow.
    std::sort(kept, kept + count, [](const byte_range& a, const byte_range& b) { return a.first < b.first; });
    range_result r;
    r.ranges[0] = kept[0];
    r.count = 1;
    for (std::size_t k = 1; k < count; ++k) {
        byte_range& tail = r.ranges[r.count - 1];
        if (kept[k].first > tail.last + 1)
            r.ranges[r.count++] = kept[k];
        else
            tail.last = std::max(tail.last, kept[k].last);
    }
    if (r.count == 1) {
        r.kind = range_kind::partial;
        r.range = r.ranges[0];
        r.count = 0;
    } else {
        r.kind = range_kind::multipart;
    }
    return r;
}

bool accepts_encoding(std::string_view accept_encoding, std::string_view coding) noexcept
{
    if (coding.empty())
        return false;
    const bool is_gzip = iequals(coding, "gzip");
    std::optional<bool> named, wildcard; // allowed-ness of the first matching element of each kind
    while (!accept_encoding.empty()) {
        const std::size_t comma = std::min(accept_encoding.find(','), accept_encoding.size());
        std::string_view element = accept_encoding.substr(0, comma);
        accept_encoding.remove_prefix(std::min(comma + 1, accept_encoding.size()));

        const std::size_t semi = std::min(element.find(';'), element.size());
        const std::string_view name = trim_ows(element.substr(0, semi));
        element.remove_prefix(semi);
        if (name.empty())
            continue;
        // weight = OWS ";" OWS "q=" qvalue; qvalue = "0" ["." 0*3DIGIT] / "1" ["." 0*3"0"]. Other parameters are
        // skipped; an element with a malformed qvalue is ignored as a whole.
        bool allowed = true, valid = true;
        while (!element.empty()) {
            element.remove_prefix(1); // the ';'
            const std::size_t next = std::min(element.find(';'), element.size());
            const std::string_view param = trim_ows(element.substr(0, next));
            element.remove_prefix(next);
            if (param.size() < 2 || ascii_lower(param[0]) != 'q' || param[1] != '=')
                continue;
            const std::string_view q = param.substr(2);
            const std::string_view frac = q.size() > 1 ? q.substr(2) : std::string_view{};
            valid = (q == "0" || q == "1" || (q.size() >= 2 && (q[0] == '0' || q[0] == '1') && q[1] == '.')) &&
                    frac.size() <= 3 && std::all_of(frac.begin(), frac.end(), is_digit) &&
                    (q[0] == '0' || frac.find_first_not_of('0') == std::string_view::npos);
            allowed = valid && (q[0] == '1' || frac.find_first_not_of('0') != std::string_view::npos);
        }
        if (!valid)
            continue;
        if (iequals(name, coding) || (is_gzip && iequals(name, "x-gzip"))) {
            if (!named)
                named = allowed;
        } else if (name == "*" && !wildcard) {
            wildcard = allowed;
        }
    }
    return named ? *named : wildcard.value_or(false);
}

// ---- percent-encoding (RFC 3986 §2.1, §3.3, §3.4) ----

namespace {

/// For each byte, the uri_parts that keep it as it is, one bit per part.
constexpr std::array<std::uint8_t, 256> uri_keeps = [] {
    std::array<std::uint8_t, 256> table{};
    constexpr auto bit = [](uri_part p) { return static_cast<std::uint8_t>(1u << unsigned(p)); };
    constexpr std::uint8_t all = bit(uri_part::segment) | bit(uri_part::path) | bit(uri_part::query);
    constexpr std::uint8_t path_and_query = bit(uri_part::path) | bit(uri_part::query);
    for (int c = 0; c < 256; ++c) {
        if (is_alnum(static_cast<char>(c)) || std::string_view("-._~").find(static_cast<char>(c)) != std::string_view::npos)
            table[c] = all; // unreserved
        else if (std::string_view("!$&'()*+,;=:@/").find(static_cast<char>(c)) != std::string_view::npos)
            table[c] = path_and_query; // sub-delims, and the rest of pchar, and '/'
        else if (c == '?' || c == '%')
            table[c] = bit(uri_part::query);
    }
    return table;
}();

} // namespace

void append_percent_encoded(std::string& out, std::string_view s, uri_part part)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    const auto keep = static_cast<std::uint8_t>(1u << unsigned(part));
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (uri_keeps[c] & keep) {
            out += ch;
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
}

std::string directory_location(std::string_view path, std::string_view query)
{
    std::string out;
    out.reserve(path.size() + query.size() + 8);
    append_percent_encoded(out, path, uri_part::path);
    out += '/';
    // "//host/..." would be a network-path reference; "/./" keeps it a path on this host.
    if (out.starts_with("//"))
        out.insert(0, "/.");
    if (!query.empty()) {
        out += '?';
        append_percent_encoded(out, query, uri_part::query);
    }
    return out;
}

} // namespace ringfork::worker::static_rules
