// HTTP/1.1 response heads.
#include "net/http_response.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "net/byte_words.hpp"
#include "net/log.hpp"

namespace ringfork::http {

namespace {

constexpr std::string_view server_line = "Server: ringfork\r\n";
constexpr std::string_view ok_head = "HTTP/1.1 200 OK\r\nServer: ringfork\r\n";

void append_u64(net::byte_buffer& out, std::uint64_t v)
{
    char* p = out.reserve_tail(20);
    auto [end, ec] = std::to_chars(p, p + 20, v);
    (void)ec;
    out.commit(static_cast<std::size_t>(end - p));
}

/// No CR, LF or NUL: nothing that could end a header line, or the head, early. Runs for
/// every header of every response, so it first looks eight bytes at a time for any byte
/// below 0x0e (the three are 0x00, 0x0a and 0x0d); only a value with one (a tab, say) is
/// looked at byte by byte.
bool fits_one_line(std::string_view s) noexcept
{
    if (!net::byte_words::any(s, [](std::uint64_t w) { return net::byte_words::below(w, 0x0e); }))
        return true;
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

/// `s` with bytes outside printable ASCII shown as \xHH, so a log line stays one line.
std::string printable(std::string_view s)
{
    std::string out;
    for (const char ch : s.substr(0, 200)) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out += ch;
        else
            out += fmt::format("\\x{:02x}", c);
    }
    return out;
}

void two_digits(char* p, int v) noexcept
{
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
}

} // namespace

std::string_view reason_phrase(unsigned status) noexcept
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void format_http_date(std::time_t t, char out[29]) noexcept
{
    static constexpr char days[] = "SunMonTueWedThuFriSat";
    static constexpr char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::memcpy(out, days + tm.tm_wday * 3, 3);
    out[3] = ',';
    out[4] = ' ';
    two_digits(out + 5, tm.tm_mday);
    out[7] = ' ';
    std::memcpy(out + 8, months + tm.tm_mon * 3, 3);
    out[11] = ' ';
    const int year = tm.tm_year + 1900;
    two_digits(out + 12, year / 100);
    two_digits(out + 14, year % 100);
    out[16] = ' ';
    two_digits(out + 17, tm.tm_hour);
    out[19] = ':';
    two_digits(out + 20, tm.tm_min);
    out[22] = ':';
    two_digits(out + 23, tm.tm_sec);
    std::memcpy(out + 25, " GMT", 4);
}

void date_cache::update(std::time_t now) noexcept
{
    if (now == second_)
        return;
    second_ = now;
    std::memcpy(line_, "Date: ", 6);
    format_http_date(now, line_ + 6);
    std::memcpy(line_ + 35, "\r\n", 2);
    line_len_ = 37;
}

void response_writer::start(unsigned status)
{
    start(status, {});
}

void response_writer::start(unsigned status, std::string_view reason)
{
    if (rejected_)
        return;
    status_ = status;
    const std::string_view date = date_.line();
    // RFC 9110 §2.5: answer with the highest minor version the server conforms to.
    if (status == 200 && reason.empty()) {
        // The common case: the status line, Server and Date in one reservation.
        char* p = out_.reserve_tail(ok_head.size() + date.size());
        std::memcpy(p, ok_head.data(), ok_head.size());
        std::memcpy(p + ok_head.size(), date.data(), date.size());
        out_.commit(ok_head.size() + date.size());
        return;
    }
    out_.append("HTTP/1.1 ");
    append_u64(out_, status);
    out_.append(" ", 1);
    out_.append(reason.empty() ? reason_phrase(status) : reason);
    out_.append("\r\n", 2);
    out_.append(server_line);
    out_.append(date);
}

void response_writer::header(std::string_view name, std::string_view value)
{
    if (rejected_)
        return;
    if (!fits_one_line(name) || name.empty()) [[unlikely]] {
        reject(name, name.empty() ? "an empty name" : "CR, LF or NUL");
        return;
    }
    header_value(name, value);
}

void response_writer::header_value(std::string_view name, std::string_view value)
{
    if (rejected_)
        return;
    if (!fits_one_line(value)) [[unlikely]] {
        reject(name, "CR, LF or NUL");
        return;
    }
    char* p = out_.reserve_tail(name.size() + value.size() + 4);
    std::memcpy(p, name.data(), name.size());
    p += name.size();
    *p++ = ':';
    *p++ = ' ';
    std::memcpy(p, value.data(), value.size());
    p += value.size();
    *p++ = '\r';
    *p++ = '\n';
    out_.commit(name.size() + value.size() + 4);
}

void response_writer::reject(std::string_view name, std::string_view why)
{
    net::log::error("response header \"{}\" for a {} response has {}: answering 500 instead",
                    printable(name), status_, why);
    out_.truncate(begin_);
    ctx_.keep_alive = false; // a caller may still append a body meant for the old head
    write_error(*this, 500);
    rejected_ = true;
}

namespace {

/// The end of a head with a known length, and then `body`, in one reservation.
void append_length_and_body(net::byte_buffer& out, const response_context& ctx, std::uint64_t length,
                            std::string_view body)
{
    constexpr std::string_view name = "Content-Length: ";
    constexpr std::string_view close = "\r\nConnection: close\r\n\r\n";
    constexpr std::string_view keep = "\r\nConnection: keep-alive\r\n\r\n";
    constexpr std::string_view end = "\r\n\r\n";
    const std::string_view tail = !ctx.keep_alive ? close : ctx.version_minor == 0 ? keep : end;
    char* const first = out.reserve_tail(name.size() + 20 + keep.size() + body.size());
    char* p = first;
    std::memcpy(p, name.data(), name.size());
    p = std::to_chars(p + name.size(), p + name.size() + 20, length).ptr;
    std::memcpy(p, tail.data(), tail.size());
    p += tail.size();
    if (!body.empty()) {
        std::memcpy(p, body.data(), body.size());
        p += body.size();
    }
    out.commit(static_cast<std::size_t>(p - first));
}

} // namespace

void response_writer::finish_head(std::uint64_t length)
{
    if (rejected_)
        return;
    body_length_ = ctx_.head ? 0 : length;
    append_length_and_body(out_, ctx_, length, {});
}

bool response_writer::finish_head_unknown_length()
{
    if (rejected_)
        return false;
    if (ctx_.version_minor == 0)
        ctx_.keep_alive = false;
    const bool chunked = ctx_.version_minor != 0;
    if (chunked)
        out_.append("Transfer-Encoding: chunked\r\n");
    finish_without_body();
    return chunked;
}

void response_writer::finish_without_body()
{
    if (rejected_)
        return;
    if (!ctx_.keep_alive)
        out_.append("Connection: close\r\n\r\n");
    else if (ctx_.version_minor == 0)
        out_.append("Connection: keep-alive\r\n\r\n");
    else
        out_.append("\r\n");
}

void response_writer::finish(std::string_view body)
{
    if (rejected_)
        return;
    body_length_ = ctx_.head ? 0 : body.size();
    append_length_and_body(out_, ctx_, body.size(), ctx_.head ? std::string_view() : body);
}

void write_error(response_writer& w, unsigned status, std::string_view extra_headers)
{
    w.start(status);
    w.header_value("Content-Type", "text/plain; charset=utf-8");
    // Whole lines, each "Name: value\r\n"; anything else there is a bad header.
    while (!extra_headers.empty() && !w.rejected()) {
        const std::size_t end = extra_headers.find("\r\n");
        const std::string_view line = extra_headers.substr(0, end);
        const std::size_t colon = line.find(':');
        const std::string_view name = line.substr(0, colon == std::string_view::npos ? 0 : colon);
        const std::string_view value = colon == std::string_view::npos ? line : line.substr(colon + 1);
        w.header(name, value.substr(std::min(value.find_first_not_of(' '), value.size())));
        extra_headers.remove_prefix(end == std::string_view::npos ? extra_headers.size() : end + 2);
    }
    if (w.rejected())
        return;
    const std::string_view reason = reason_phrase(status);
    char body[64];
    const std::size_t n = std::min(reason.size(), sizeof body - 1);
    std::memcpy(body, reason.data(), n);
    body[n] = '\n';
    w.finish({body, n + 1});
}

} // namespace ringfork::http
