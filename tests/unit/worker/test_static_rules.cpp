// Static-file rules: validators, HTTP-dates, preconditions, ranges, content types, codings.
#include <boost/test/unit_test.hpp>

#include <string>

#include "net/http_response.hpp"
#include "worker/static_rules.hpp"

using namespace ringfork;
using namespace ringfork::worker::static_rules;

namespace {

// Results as text, so a failure prints what came out.
std::string show(std::optional<std::time_t> t) { return t ? std::to_string(*t) : "invalid"; }

std::string_view show(precondition p)
{
    switch (p) {
    case precondition::proceed: return "proceed";
    case precondition::not_modified: return "not_modified";
    case precondition::failed: return "failed";
    }
    return "?";
}

std::string show(range_result r)
{
    switch (r.kind) {
    case range_kind::full: return "full";
    case range_kind::unsatisfiable: return "unsatisfiable";
    case range_kind::partial: return "partial " + std::to_string(r.range.first) + "-" + std::to_string(r.range.last);
    case range_kind::multipart: {
        std::string s = "multipart";
        for (std::size_t i = 0; i < r.count; ++i) {
            s += i ? ',' : ' ';
            s += std::to_string(r.ranges[i].first);
            s += '-';
            s += std::to_string(r.ranges[i].last);
        }
        return s;
    }
    }
    return "?";
}

std::string date(std::string_view text) { return show(parse_http_date(text)); }

constexpr std::time_t rfc_instant = 784111777; // Sun, 06 Nov 1994 08:49:37 GMT, RFC 9110's example
constexpr std::string_view at_mtime = "Sun, 06 Nov 1994 08:49:37 GMT";
constexpr std::string_view before_mtime = "Sun, 06 Nov 1994 08:49:36 GMT";
constexpr std::string_view after_mtime = "Sun, 06 Nov 1994 08:49:38 GMT";
constexpr std::string_view tag = "\"abc\"";

struct request_builder {
    http::request r;
    explicit request_builder(http::method m = http::method::get) { r.verb = m; }
    request_builder& with(std::string_view name, std::string_view value)
    {
        r.headers[r.header_count++] = {name, value};
        return *this;
    }
    std::string_view eval(std::string_view etag = tag, std::time_t mtime = rfc_instant) const
    {
        return show(evaluate(r, etag, mtime));
    }
};

request_builder get() { return request_builder(http::method::get); }

std::string range(std::string_view value, std::uint64_t size = 1000, std::string_view if_range = {})
{
    return show(evaluate_range(value, if_range, tag, rfc_instant, size));
}

std::string repeated(std::string_view spec, int n)
{
    std::string out = "bytes=";
    for (int i = 0; i < n; ++i) {
        if (i)
            out += ',';
        out += spec;
    }
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(static_rules_suite)

BOOST_AUTO_TEST_CASE(etag_is_size_and_mtime_in_hex)
{
    BOOST_TEST(make_etag(0x1234, 0x5678abcd) == "\"1234-5678abcd\"");
    BOOST_TEST(make_etag(0, 0) == "\"0-0\"");
    BOOST_TEST(make_etag(0x1234, 0x5678abcd, "br") == "\"1234-5678abcd-br\"");
    BOOST_TEST(make_etag(1, 2, "gz") == "\"1-2-gz\"");
    BOOST_TEST(make_etag(~std::uint64_t{0}, 0) == "\"ffffffffffffffff-0\"");
    BOOST_TEST(make_etag(5, -1) == "\"5-ffffffffffffffff\"");
    BOOST_TEST(make_etag(5, 1) != make_etag(5, 2));
}

BOOST_AUTO_TEST_CASE(dates_in_all_three_forms)
{
    BOOST_TEST(date("Sun, 06 Nov 1994 08:49:37 GMT") == "784111777");
    BOOST_TEST(date("Sunday, 06-Nov-94 08:49:37 GMT") == "784111777");
    BOOST_TEST(date("Sun Nov  6 08:49:37 1994") == "784111777");
    BOOST_TEST(date("Wed Nov 16 08:49:37 1994") == "784975777");
    BOOST_TEST(date("Sun Nov 06 08:49:37 1994") == "784111777"); // asctime with a zero-padded day
    BOOST_TEST(date("Thu, 01 Jan 1970 00:00:00 GMT") == "0");
    BOOST_TEST(date("Wed, 31 Dec 1969 23:59:59 GMT") == "-1");
    BOOST_TEST(date("Tue, 19 Jan 2038 03:14:08 GMT") == "2147483648");
    BOOST_TEST(date("Fri, 31 Dec 9999 23:59:59 GMT") == "253402300799");
}

BOOST_AUTO_TEST_CASE(dates_calendar_rules)
{
    BOOST_TEST(date("Thu, 29 Feb 2024 12:00:00 GMT") == "1709208000");
    BOOST_TEST(date("Tue, 29 Feb 2000 00:00:00 GMT") == "951782400");
    BOOST_TEST(date("Wed, 29 Feb 2023 00:00:00 GMT") == "invalid");
    BOOST_TEST(date("Thu, 29 Feb 1900 00:00:00 GMT") == "invalid");
    BOOST_TEST(date("Thu, 31 Apr 2024 00:00:00 GMT") == "invalid");
    BOOST_TEST(date("Sat, 31 Dec 2016 23:59:60 GMT") == "1483228800"); // leap second = next minute
    // RFC 850 two-digit years: 70-99 → 19xx, 00-69 → 20xx.
    BOOST_TEST(date("Thursday, 01-Jan-70 00:00:00 GMT") == "0");
    BOOST_TEST(date("Saturday, 01-Jan-00 00:00:00 GMT") == "946684800");
    BOOST_TEST(date("Tuesday, 31-Dec-69 23:59:59 GMT") == "3155759999");
    // The weekday is not checked against the date.
    BOOST_TEST(date("Mon, 06 Nov 1994 08:49:37 GMT") == "784111777");
}

BOOST_AUTO_TEST_CASE(invalid_dates)
{
    for (std::string_view bad : {
             "",
             "Sun, 06 Nov 1994 08:49:37 UTC",
             "Sun, 06 Nov 1994 08:49:37 gmt",
             "sun, 06 Nov 1994 08:49:37 GMT",
             "Sun, 06 nov 1994 08:49:37 GMT",
             "Sun, 6 Nov 1994 08:49:37 GMT",
             "Sun, 06 Nov 94 08:49:37 GMT",
             "Sun, 06 Foo 1994 08:49:37 GMT",
             "Xyz, 06 Nov 1994 08:49:37 GMT",
             "Sun, 00 Nov 1994 08:49:37 GMT",
             "Sun, 32 Nov 1994 08:49:37 GMT",
             "Sun, 06 Nov 1994 24:00:00 GMT",
             "Sun, 06 Nov 1994 08:60:00 GMT",
             "Sun, 06 Nov 1994 08:49:61 GMT",
             "Sun, 06 Nov 1994 08:49:37 GMT ",
             "Sun, 06 Nov 1994 08:49:37 GMT; length=120",
             "Sun, 06 Nov 1994 08:49:37",
             "Sun, 06 Nov 1994 8:49:37 GMT",
             "Sun, 06 Nov 1994 08:49:3",
             "Sunday, 06-Nov-1994 08:49:37 GMT",
             "Sunday, 06 Nov 94 08:49:37 GMT",
             "Sundae, 06-Nov-94 08:49:37 GMT",
             "Sun Nov 6 08:49:37 1994",
             "Sun Nov  6 08:49:37 94",
             "Sun Nov  6 08:49:37 1994 ",
             "Sun Nov  6 08:49:37 1994 GMT",
             "1994-11-06T08:49:37Z",
             "784111777",
         })
        BOOST_TEST(date(bad) == "invalid", "\"" << bad << "\"");
}

BOOST_AUTO_TEST_CASE(dates_round_trip_through_the_formatter)
{
    for (std::time_t t : {std::time_t{0}, rfc_instant, std::time_t{951782400}, std::time_t{1709208000},
                          std::time_t{4102444799}}) {
        char buf[29];
        http::format_http_date(t, buf);
        BOOST_TEST(date(std::string_view(buf, sizeof buf)) == std::to_string(t));
    }
}

BOOST_AUTO_TEST_CASE(no_conditionals_proceed)
{
    BOOST_TEST(get().eval() == "proceed");
    BOOST_TEST(get().with("Accept", "*/*").eval() == "proceed");
}

BOOST_AUTO_TEST_CASE(if_match_is_strong)
{
    BOOST_TEST(get().with("If-Match", "\"abc\"").eval() == "proceed");
    BOOST_TEST(get().with("If-Match", "\"other\"").eval() == "failed");
    BOOST_TEST(get().with("If-Match", "*").eval() == "proceed");
    BOOST_TEST(get().with("If-Match", "W/\"abc\"").eval() == "failed");
    BOOST_TEST(get().with("If-Match", "\"x\", \"abc\"").eval() == "proceed");
    BOOST_TEST(get().with("If-Match", "\"x\" ,\tW/\"abc\"").eval() == "failed");
    BOOST_TEST(get().with("If-Match", ", ,\"abc\",").eval() == "proceed"); // empty list elements
    BOOST_TEST(get().with("If-Match", "abc").eval() == "failed");          // unquoted: not an entity-tag
    BOOST_TEST(get().with("If-Match", "\"ABC\"").eval() == "failed");      // opaque-tags are case-sensitive
    BOOST_TEST(get().with("if-match", "\"abc\"").eval("\"abc\"") == "proceed");
    BOOST_TEST(get().with("If-Match", "\"abc\"").eval("W/\"abc\"") == "failed"); // current weak: no strong match
    BOOST_TEST(request_builder(http::method::put).with("If-Match", "\"other\"").eval() == "failed");
    BOOST_TEST(get().with("If-Match", "").eval() == "proceed"); // empty value counts as absent
}

BOOST_AUTO_TEST_CASE(if_unmodified_since)
{
    BOOST_TEST(get().with("If-Unmodified-Since", at_mtime).eval() == "proceed");
    BOOST_TEST(get().with("If-Unmodified-Since", after_mtime).eval() == "proceed");
    BOOST_TEST(get().with("If-Unmodified-Since", before_mtime).eval() == "failed");
    BOOST_TEST(get().with("If-Unmodified-Since", "yesterday").eval() == "proceed"); // invalid date ignored
    // Only without If-Match.
    BOOST_TEST(get().with("If-Match", "\"abc\"").with("If-Unmodified-Since", before_mtime).eval() == "proceed");
    BOOST_TEST(get().with("If-Match", "\"zzz\"").with("If-Unmodified-Since", after_mtime).eval() == "failed");
}

BOOST_AUTO_TEST_CASE(if_none_match_is_weak)
{
    BOOST_TEST(get().with("If-None-Match", "\"abc\"").eval() == "not_modified");
    BOOST_TEST(get().with("If-None-Match", "W/\"abc\"").eval() == "not_modified");
    BOOST_TEST(get().with("If-None-Match", "\"abc\"").eval("W/\"abc\"") == "not_modified");
    BOOST_TEST(get().with("If-None-Match", "\"other\"").eval() == "proceed");
    BOOST_TEST(get().with("If-None-Match", "*").eval() == "not_modified");
    BOOST_TEST(get().with("If-None-Match", "\"x\",W/\"y\", W/\"abc\"").eval() == "not_modified");
    BOOST_TEST(get().with("If-None-Match", "\"ABC\"").eval() == "proceed");
    BOOST_TEST(get().with("If-None-Match", "\"abc").eval() == "proceed"); // unterminated
    BOOST_TEST(request_builder(http::method::head).with("If-None-Match", "\"abc\"").eval() == "not_modified");
    BOOST_TEST(request_builder(http::method::post).with("If-None-Match", "\"abc\"").eval() == "failed");
    BOOST_TEST(request_builder(http::method::put).with("If-None-Match", "*").eval() == "failed");
    BOOST_TEST(request_builder(http::method::post).with("If-None-Match", "\"other\"").eval() == "proceed");
}

BOOST_AUTO_TEST_CASE(if_none_match_lists_and_field_lines)
{
    // A list split over two field lines is one list.
    BOOST_TEST(get().with("If-None-Match", "\"x\"").with("If-None-Match", "\"abc\"").eval() == "not_modified");
    BOOST_TEST(get().with("IF-NONE-MATCH", "\"abc\"").eval() == "not_modified");
    // A comma inside the quotes belongs to the tag.
    BOOST_TEST(get().with("If-None-Match", "\"a,b\"").eval("\"a,b\"") == "not_modified");
    BOOST_TEST(get().with("If-None-Match", "\"a\", \"b\"").eval("\"a,b\"") == "proceed");
    // The precompressed variant has its own validator.
    const std::string plain = make_etag(10, 20), brotli = make_etag(10, 20, "br");
    BOOST_TEST(get().with("If-None-Match", plain).eval(brotli) == "proceed");
    BOOST_TEST(get().with("If-None-Match", brotli).eval(brotli) == "not_modified");
}

BOOST_AUTO_TEST_CASE(if_modified_since)
{
    BOOST_TEST(get().with("If-Modified-Since", at_mtime).eval() == "not_modified");
    BOOST_TEST(get().with("If-Modified-Since", after_mtime).eval() == "not_modified");
    BOOST_TEST(get().with("If-Modified-Since", before_mtime).eval() == "proceed");
    BOOST_TEST(get().with("If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT; length=5").eval() == "proceed");
    BOOST_TEST(get().with("If-Modified-Since", "Sunday, 06-Nov-94 08:49:37 GMT").eval() == "not_modified");
    BOOST_TEST(get().with("If-Modified-Since", "Sun Nov  6 08:49:37 1994").eval() == "not_modified");
    BOOST_TEST(request_builder(http::method::head).with("If-Modified-Since", at_mtime).eval() == "not_modified");
    BOOST_TEST(request_builder(http::method::post).with("If-Modified-Since", at_mtime).eval() == "proceed");
}

BOOST_AUTO_TEST_CASE(evaluation_order)
{
    // If-Match decides before If-None-Match.
    BOOST_TEST(get().with("If-None-Match", "\"abc\"").with("If-Match", "\"zzz\"").eval() == "failed");
    BOOST_TEST(get().with("If-Match", "\"abc\"").with("If-None-Match", "\"abc\"").eval() == "not_modified");
    // If-Unmodified-Since failing beats a matching If-None-Match.
    BOOST_TEST(get().with("If-None-Match", "*").with("If-Unmodified-Since", before_mtime).eval() == "failed");
    // If-None-Match makes If-Modified-Since irrelevant, either way.
    BOOST_TEST(get().with("If-None-Match", "\"other\"").with("If-Modified-Since", at_mtime).eval() == "proceed");
    BOOST_TEST(get().with("If-Modified-Since", before_mtime).with("If-None-Match", "\"abc\"").eval() == "not_modified");
    // An invalid If-Unmodified-Since does not stop If-Modified-Since.
    BOOST_TEST(get().with("If-Unmodified-Since", "junk").with("If-Modified-Since", at_mtime).eval() == "not_modified");
    BOOST_TEST(get().with("If-Unmodified-Since", after_mtime).with("If-Modified-Since", at_mtime).eval() ==
               "not_modified");
}

BOOST_AUTO_TEST_CASE(single_ranges)
{
    BOOST_TEST(range("") == "full");
    BOOST_TEST(range("bytes=0-499") == "partial 0-499");
    BOOST_TEST(range("bytes=500-") == "partial 500-999");
    BOOST_TEST(range("bytes=-200") == "partial 800-999");
    BOOST_TEST(range("bytes=-2000") == "partial 0-999");
    BOOST_TEST(range("bytes=900-2000") == "partial 900-999");
    BOOST_TEST(range("bytes=999-999") == "partial 999-999");
    BOOST_TEST(range("bytes=0-0") == "partial 0-0");
    BOOST_TEST(range("bytes=0-") == "partial 0-999");
    BOOST_TEST(range("Bytes=1-2") == "partial 1-2");
    BOOST_TEST(range("bytes=0-99999999999999999999999") == "partial 0-999"); // saturates
}

BOOST_AUTO_TEST_CASE(unsatisfiable_ranges)
{
    BOOST_TEST(range("bytes=1000-") == "unsatisfiable");
    BOOST_TEST(range("bytes=1000-2000") == "unsatisfiable");
    BOOST_TEST(range("bytes=-0") == "unsatisfiable");
    BOOST_TEST(range("bytes=1000-1000,2000-") == "unsatisfiable");
    BOOST_TEST(range("bytes=99999999999999999999-") == "unsatisfiable");
    BOOST_TEST(range("bytes=0-0,1000-1100") == "partial 0-0"); // the range beyond the end is dropped
    // A zero-length file satisfies no range.
    BOOST_TEST(range("bytes=0-", 0) == "unsatisfiable");
    BOOST_TEST(range("bytes=0-0", 0) == "unsatisfiable");
    BOOST_TEST(range("bytes=-5", 0) == "unsatisfiable");
    BOOST_TEST(range("bytes=0-", 1) == "partial 0-0");
}

BOOST_AUTO_TEST_CASE(invalid_ranges_are_ignored)
{
    for (std::string_view bad : {"bytes=5-2", "bytes=abc", "bytes=", "bytes=,", "bytes=-", "bytes=--5",
                                 "items=0-1", "bytes 0-1", "bytes =0-1", "bytes=0-1;", "bytes=0-1 2-3",
                                 "bytes=1-2-3", "bytes=0-1,5-2", "bytes=0-1,x", "bytes=0 -1", "bytes=+1-2",
                                 "bytes=0x10-20", "byte=0-1"})
        BOOST_TEST(range(bad) == "full", "\"" << bad << "\"");
    // OWS and empty elements around list elements are allowed.
    BOOST_TEST(range("bytes=0-1,,2-3") == "partial 0-3");
    BOOST_TEST(range("bytes= 0-1 ,\t2-3") == "partial 0-3");
    BOOST_TEST(range("bytes=,0-4,") == "partial 0-4");
}

BOOST_AUTO_TEST_CASE(ranges_coalesce)
{
    BOOST_TEST(range("bytes=0-99,100-199") == "partial 0-199");  // adjacent
    BOOST_TEST(range("bytes=0-150,100-199") == "partial 0-199"); // overlapping
    BOOST_TEST(range("bytes=200-299,0-199") == "partial 0-299"); // out of order
    BOOST_TEST(range("bytes=500-,0-600") == "partial 0-999");
    BOOST_TEST(range("bytes=-100,0-899") == "partial 0-999"); // suffix meets the start
    BOOST_TEST(range("bytes=0-0,0-0") == "partial 0-0");
    BOOST_TEST(range("bytes=10-20,12-15") == "partial 10-20"); // contained
    BOOST_TEST(range("bytes=0-99,200-299") == "multipart 0-99,200-299");
    BOOST_TEST(range("bytes=0-99,101-199") == "multipart 0-99,101-199"); // one byte apart is not adjacent
    BOOST_TEST(range("bytes=0-1,5-6,2-4") == "partial 0-6");
}

BOOST_AUTO_TEST_CASE(disjoint_ranges_are_multipart_in_ascending_order)
{
    BOOST_TEST(range("bytes=500-599,0-9") == "multipart 0-9,500-599");
    BOOST_TEST(range("bytes=-10,0-9") == "multipart 0-9,990-999");
    BOOST_TEST(range("bytes=0-9,5-20,100-,150-160") == "multipart 0-20,100-999");
    BOOST_TEST(range("bytes=0-0,2-2,4-4,3-3") == "multipart 0-0,2-4");
    BOOST_TEST(range("bytes=0-9,2000-3000") == "partial 0-9"); // the unsatisfiable one is dropped
    BOOST_TEST(range("bytes=0-9,500-599", 1000, "\"other\"") == "full"); // If-Range does not match
}

BOOST_AUTO_TEST_CASE(at_most_64_ranges)
{
    BOOST_TEST(range(repeated("0-0", 64)) == "partial 0-0");
    BOOST_TEST(range(repeated("0-0", 65)) == "full");
    BOOST_TEST(range(repeated("2000-", 64)) == "unsatisfiable");
    BOOST_TEST(range(repeated("2000-", 65)) == "full");
    BOOST_TEST(range(repeated("0-0", 64) + ",,,") == "partial 0-0"); // empty elements do not count
    std::string spread = "bytes=";
    for (int i = 0; i < 64; ++i) {
        if (i)
            spread += ',';
        spread += std::to_string(2 * i);
        spread += '-';
        spread += std::to_string(2 * i);
    }
    const range_result r = evaluate_range(spread, {}, {}, 0, 1000);
    BOOST_TEST(int(r.kind) == int(range_kind::multipart));
    BOOST_TEST(r.count == 64u);
    BOOST_TEST(r.ranges[63].first == 126u);
    BOOST_TEST(range(spread + ",200-200") == "full");
}

BOOST_AUTO_TEST_CASE(if_range)
{
    BOOST_TEST(range("bytes=0-9", 1000, "\"abc\"") == "partial 0-9");
    BOOST_TEST(range("bytes=0-9", 1000, "\"other\"") == "full");
    BOOST_TEST(range("bytes=0-9", 1000, "W/\"abc\"") == "full"); // weak tags never match
    BOOST_TEST(range("bytes=0-9", 1000, "\"abc\" ") == "full");
    BOOST_TEST(range("bytes=0-9", 1000, at_mtime) == "partial 0-9");
    BOOST_TEST(range("bytes=0-9", 1000, "Sunday, 06-Nov-94 08:49:37 GMT") == "partial 0-9");
    BOOST_TEST(range("bytes=0-9", 1000, before_mtime) == "full");
    BOOST_TEST(range("bytes=0-9", 1000, after_mtime) == "full"); // only an exact date match
    BOOST_TEST(range("bytes=0-9", 1000, "junk") == "full");
    BOOST_TEST(range("", 1000, "\"abc\"") == "full");
    BOOST_TEST(range("bytes=2000-", 1000, "\"other\"") == "full"); // If-Range failing wins over 416
    BOOST_TEST(range("bytes=2000-", 1000, "\"abc\"") == "unsatisfiable");
    BOOST_TEST(show(evaluate_range("bytes=0-9", "\"abc\"", "W/\"abc\"", rfc_instant, 1000)) == "full");
}

BOOST_AUTO_TEST_CASE(builtin_content_types)
{
    BOOST_TEST(content_type("/index.html") == "text/html; charset=utf-8");
    BOOST_TEST(content_type("/INDEX.HTML") == "text/html; charset=utf-8");
    BOOST_TEST(content_type("/a/b.htm") == "text/html; charset=utf-8");
    BOOST_TEST(content_type("/app.Js") == "text/javascript; charset=utf-8");
    BOOST_TEST(content_type("/mod.mjs") == "text/javascript; charset=utf-8");
    BOOST_TEST(content_type("/s.css") == "text/css; charset=utf-8");
    BOOST_TEST(content_type("/d.json") == "application/json; charset=utf-8");
    BOOST_TEST(content_type("/app.js.map") == "application/json; charset=utf-8");
    BOOST_TEST(content_type("/i.svg") == "image/svg+xml; charset=utf-8");
    BOOST_TEST(content_type("/f.xml") == "application/xml; charset=utf-8");
    BOOST_TEST(content_type("/site.webmanifest") == "application/manifest+json; charset=utf-8");
    BOOST_TEST(content_type("/README.md") == "text/markdown; charset=utf-8");
    BOOST_TEST(content_type("/data.csv") == "text/csv; charset=utf-8");
    BOOST_TEST(content_type("/p.PNG") == "image/png");
    BOOST_TEST(content_type("/p.jpeg") == "image/jpeg");
    BOOST_TEST(content_type("/p.jpg") == "image/jpeg");
    BOOST_TEST(content_type("/p.avif") == "image/avif");
    BOOST_TEST(content_type("/favicon.ico") == "image/x-icon"); // the built-in beats mime.types' choice
    BOOST_TEST(content_type("/f.woff2") == "font/woff2");
    BOOST_TEST(content_type("/m.wasm") == "application/wasm");
    BOOST_TEST(content_type("/v.mp4") == "video/mp4");
    BOOST_TEST(content_type("/a.tar.gz") == "application/gzip");
    BOOST_TEST(content_type("/doc.pdf") == "application/pdf");
}

BOOST_AUTO_TEST_CASE(unknown_content_types)
{
    BOOST_TEST(content_type("/no_extension") == "application/octet-stream");
    BOOST_TEST(content_type("/.htaccess") == "application/octet-stream");
    BOOST_TEST(content_type("/dir.html/file") == "application/octet-stream");
    BOOST_TEST(content_type("/trailing.") == "application/octet-stream");
    BOOST_TEST(content_type("") == "application/octet-stream");
    BOOST_TEST(content_type("/x.qqqqzzzz-not-a-type") == "application/octet-stream");
    BOOST_TEST(content_type("/x." + std::string(200, 'a')) == "application/octet-stream");
    BOOST_TEST(content_type("/a.html.") == "application/octet-stream");
}

BOOST_AUTO_TEST_CASE(mime_types_file_adds_the_rest)
{
    const mime_table t("# comment line\n"
                       "application/x-foo\tfoo FOO2\n"
                       "text/x-bar bar   # trailing comment baz\n"
                       "Application/X-Up up\n"
                       "application/x-weird js html\n"
                       "image/x-none\n"
                       "\tbaz2\n"
                       "application/x-crlf crlf\r\n"
                       "application/x-last last");
    BOOST_TEST(t.find("/a.foo") == "application/x-foo");
    BOOST_TEST(t.find("/a.foo2") == "application/x-foo");
    BOOST_TEST(t.find("/a.FoO") == "application/x-foo");
    BOOST_TEST(t.find("/a.bar") == "text/x-bar; charset=utf-8");
    BOOST_TEST(t.find("/a.baz") == "application/octet-stream"); // in the comment
    BOOST_TEST(t.find("/a.up") == "application/x-up");
    BOOST_TEST(t.find("/a.js") == "text/javascript; charset=utf-8"); // built-ins win
    BOOST_TEST(t.find("/a.html") == "text/html; charset=utf-8");
    BOOST_TEST(t.find("/a.baz2") == "application/octet-stream"); // a line without a type
    BOOST_TEST(t.find("/a.crlf") == "application/x-crlf");
    BOOST_TEST(t.find("/a.last") == "application/x-last");
    BOOST_TEST(t.size() == mime_table().size() + 6);
    BOOST_TEST(mime_table().find("/a.foo") == "application/octet-stream");
}

BOOST_AUTO_TEST_CASE(accept_encoding)
{
    BOOST_TEST(accepts_encoding("gzip, deflate, br", "br"));
    BOOST_TEST(accepts_encoding("gzip, deflate, br", "gzip"));
    BOOST_TEST(!accepts_encoding("gzip", "br"));
    BOOST_TEST(!accepts_encoding("", "gzip"));
    BOOST_TEST(!accepts_encoding("identity", "gzip"));
    BOOST_TEST(!accepts_encoding("brotli", "br"));
    BOOST_TEST(accepts_encoding("BR", "br"));
    BOOST_TEST(accepts_encoding("Gzip", "GZIP"));
    BOOST_TEST(accepts_encoding("  gzip ,\tbr  ", "br"));
    BOOST_TEST(accepts_encoding("x-gzip", "gzip"));
    BOOST_TEST(!accepts_encoding("x-gzip", "br"));
}

BOOST_AUTO_TEST_CASE(accept_encoding_weights_and_wildcard)
{
    BOOST_TEST(accepts_encoding("*", "br"));
    BOOST_TEST(!accepts_encoding("*;q=0", "br"));
    BOOST_TEST(!accepts_encoding("br;q=0, *", "br"));         // explicit beats wildcard
    BOOST_TEST(accepts_encoding("br;q=0.5, *;q=0", "br"));    // ... either way
    BOOST_TEST(accepts_encoding("*;q=0, br", "br"));
    BOOST_TEST(accepts_encoding("gzip;q=0, *;q=0.5", "br"));
    BOOST_TEST(accepts_encoding("br;Q=0.5", "br"));
    BOOST_TEST(!accepts_encoding("br; q=0", "br"));
    BOOST_TEST(!accepts_encoding("br ;q=0.000", "br"));
    BOOST_TEST(!accepts_encoding("br;q=0.", "br"));
    BOOST_TEST(accepts_encoding("br;q=0.001", "br"));
    BOOST_TEST(accepts_encoding("br;q=1.000", "br"));
    BOOST_TEST(accepts_encoding("br;q=1", "br"));
    BOOST_TEST(!accepts_encoding("gzip;q=0", "gzip"));
    // Malformed weights void their element.
    BOOST_TEST(!accepts_encoding("br;q=1.5", "br"));
    BOOST_TEST(!accepts_encoding("br;q=2", "br"));
    BOOST_TEST(!accepts_encoding("br;q=", "br"));
    BOOST_TEST(!accepts_encoding("br;q=0.0001", "br"));
    BOOST_TEST(!accepts_encoding("br;q=abc", "br"));
    BOOST_TEST(accepts_encoding("br;q=abc, *", "br")); // voided element: the wildcard decides
    BOOST_TEST(accepts_encoding("br;level=5", "br"));   // other parameters are skipped
    BOOST_TEST(!accepts_encoding("br", ""));
}

std::string encoded(std::string_view s, uri_part part)
{
    std::string out;
    append_percent_encoded(out, s, part);
    return out;
}

BOOST_AUTO_TEST_CASE(percent_encoding_by_part)
{
    const std::string_view every_kind = "aZ09-._~!$&'()*+,;=:@/?%# \"<>\\^`{|}\r\n\x7f\xc3\xa9";
    BOOST_TEST(encoded(every_kind, uri_part::segment) ==
               "aZ09-._~%21%24%26%27%28%29%2A%2B%2C%3B%3D%3A%40%2F%3F%25%23%20%22%3C%3E%5C%5E%60%7B%7C%7D%0D%0A%7F%C3%A9");
    BOOST_TEST(encoded(every_kind, uri_part::path) ==
               "aZ09-._~!$&'()*+,;=:@/%3F%25%23%20%22%3C%3E%5C%5E%60%7B%7C%7D%0D%0A%7F%C3%A9");
    BOOST_TEST(encoded(every_kind, uri_part::query) ==
               "aZ09-._~!$&'()*+,;=:@/?%%23%20%22%3C%3E%5C%5E%60%7B%7C%7D%0D%0A%7F%C3%A9");
    BOOST_TEST(encoded(std::string_view("\0", 1), uri_part::path) == "%00");
}

// Issue 15, defect 5: the redirect was built from the decoded path.
BOOST_AUTO_TEST_CASE(directory_location_is_a_valid_uri_reference)
{
    BOOST_TEST(directory_location("/100%", "") == "/100%25/");
    BOOST_TEST(directory_location("/a?b", "") == "/a%3Fb/");
    BOOST_TEST(directory_location("/c#d", "") == "/c%23d/");
    BOOST_TEST(directory_location("/inj\r\nSet-Cookie: pwned=1", "") == "/inj%0D%0ASet-Cookie:%20pwned=1/");
    BOOST_TEST(directory_location("/a/b c", "x=1&y=%41") == "/a/b%20c/?x=1&y=%41");
    BOOST_TEST(directory_location("/d", "q=\"{}\"") == "/d/?q=%22%7B%7D%22");
    BOOST_TEST(directory_location("/", "") == "/.//"); // never asked for, still not another host
    BOOST_TEST(directory_location("//evil.example", "") == "/.//evil.example/");
    BOOST_TEST(directory_location("/a//b", "") == "/a//b/");
}

BOOST_AUTO_TEST_SUITE_END()
