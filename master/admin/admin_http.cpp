// The admin listener's HTTP/1.1 server.
//
// Every socket is non-blocking and every buffer bounded: a connection holds at most one
// request head (8 KiB) and one response, reads nothing while a response is unsent, and is
// closed on the deadlines of admin_server::limits; when the table is full a new connection
// takes the slot of the oldest idle one (poll_table). So a slow or hostile client costs
// the master a little memory, never a blocked loop, and a probe always gets a slot.
#include "master/admin/admin_http.hpp"

#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "net/error.hpp"
#include "net/log.hpp"
#include "net/socket.hpp"

namespace ringfork::master {

namespace {

std::string_view reason(unsigned status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

bool iequals(std::string_view a, std::string_view b)
{
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s)
{
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
        s.remove_suffix(1);
    return s;
}

/// What the admin server needs from a request head.
struct request_head {
    std::string_view method, path;
    int minor = 1;
    bool close = false;     ///< Connection: close (or HTTP/1.0 without keep-alive).
    bool has_body = false;  ///< Content-Length other than 0, or Transfer-Encoding.
    bool valid = false;
};

request_head parse_head(std::string_view head)
{
    request_head r;
    const auto eol = head.find("\r\n");
    std::string_view line = head.substr(0, eol);
    const auto sp1 = line.find(' ');
    const auto sp2 = line.rfind(' ');
    if (sp1 == std::string_view::npos || sp2 == sp1)
        return r;
    r.method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string_view version = line.substr(sp2 + 1);
    if (target.empty() || target.front() != '/' || target.find(' ') != std::string_view::npos)
        return r;
    r.path = target.substr(0, target.find('?'));
    if (version == "HTTP/1.1")
        r.minor = 1;
    else if (version == "HTTP/1.0")
        r.minor = 0;
    else
        return r.minor = -1, r.valid = true, r;
    r.close = r.minor == 0;
    std::string_view rest = eol == std::string_view::npos ? std::string_view{} : head.substr(eol + 2);
    while (!rest.empty()) {
        const auto e = rest.find("\r\n");
        const std::string_view field = rest.substr(0, e);
        rest.remove_prefix(e == std::string_view::npos ? rest.size() : e + 2);
        const auto colon = field.find(':');
        if (colon == std::string_view::npos)
            continue;
        const std::string_view name = field.substr(0, colon), value = trim(field.substr(colon + 1));
        if (iequals(name, "connection"))
            r.close = iequals(value, "close") || (r.minor == 0 && !iequals(value, "keep-alive"));
        else if (iequals(name, "transfer-encoding") || (iequals(name, "content-length") && value != "0"))
            r.has_body = true;
    }
    r.valid = true;
    return r;
}

} // namespace

bool admin_server::open(const net::address& addr, admin_handler handler, std::string& error)
{
    net::listen_options plain;
    plain.reuseport = false;
    plain.backlog = backlog;
    table_.listener = net::make_listener(addr, plain, error);
    if (!table_.listener)
        return false;
    if (std::string why; !net::set_defer_accept(table_.listener.get(), defer_accept_s, why))
        net::log::warn("{}", why); // silent connections then take slots sooner: evicted, not fatal
    bound_ = *net::local_address(table_.listener.get());
    handler_ = std::move(handler);
    return true;
}

void admin_server::adopt(int fd, admin_handler handler)
{
    table_.listener.reset(fd);
    bound_ = *net::local_address(fd);
    handler_ = std::move(handler);
}

void admin_server::handle(std::span<const pollfd> fds, std::uint64_t now_ms)
{
    table_.handle(fds, now_ms, "admin " + bound_.to_string(), [&](connection& c, short ev) {
        if (ev & POLLOUT) {
            flush(c, now_ms);
            if (!c.dead && c.out.empty())
                serve_buffered(c, now_ms);
        } else if (ev & (POLLIN | POLLHUP | POLLERR)) {
            on_readable(c, now_ms);
        }
    });
}

void admin_server::close()
{
    table_.conns.clear();
    table_.listener.reset();
}

void admin_server::on_readable(connection& c, std::uint64_t now_ms)
{
    char buf[4096];
    const std::size_t room = max_head + 1 - std::min(c.in.size(), max_head);
    const ssize_t n = ::recv(c.fd.get(), buf, std::min(sizeof buf, room), MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        c.dead = true;
        return;
    }
    if (n > 0) {
        c.in.append(buf, std::size_t(n));
        table_.received(c, now_ms);
    }
    serve_buffered(c, now_ms);
}

void admin_server::serve_buffered(connection& c, std::uint64_t now_ms)
{
    // One response at a time: a pipelined request waits in `in` until this one is sent.
    while (c.out.empty() && !c.dead && !c.close_after) {
        const auto end = c.in.find("\r\n\r\n");
        if (end == std::string::npos || end + 4 > max_head) {
            if (c.in.size() > max_head)
                respond(c, 431, "text/plain; charset=utf-8", "request head too large\n", false);
            break;
        }
        const request_head r = parse_head(std::string_view(c.in).substr(0, end + 2));
        const bool head_only = r.method == "HEAD";
        if (!r.valid) {
            respond(c, 400, "text/plain; charset=utf-8", "bad request\n", false);
        } else if (r.minor < 0) {
            respond(c, 505, "text/plain; charset=utf-8", "HTTP/1.1 only\n", false);
        } else if (r.has_body) {
            respond(c, 413, "text/plain; charset=utf-8", "the admin listener takes no request bodies\n", head_only);
        } else if (r.method != "GET" && !head_only) {
            respond(c, 405, "text/plain; charset=utf-8", "GET or HEAD only\n", false, "Allow: GET, HEAD\r\n");
        } else {
            c.close_after = r.close;
            const admin_response a = handler_(r.path);
            respond(c, a.status, a.content_type, a.body, head_only);
        }
        c.in.erase(0, end + 4);
        flush(c, now_ms);
    }
}

void admin_server::respond(connection& c, unsigned status, std::string_view type, std::string_view body,
                           bool head_only, std::string_view extra_headers)
{
    if (status >= 400 && status != 404 && status != 503)
        c.close_after = true; // after a protocol error the stream cannot be trusted
    c.out = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n"
                        "{}Connection: {}\r\n\r\n",
                        status, reason(status), type, body.size(), extra_headers,
                        c.close_after ? "close" : "keep-alive");
    if (!head_only)
        c.out.append(body);
    c.sent = 0;
}

void admin_server::flush(connection& c, std::uint64_t now_ms)
{
    if (!table_.send_queued(c, now_ms))
        return; // poll for POLLOUT; the deadline bounds a client that never reads
    if (c.close_after)
        table_.close_after_reply(c, now_ms);
    else
        table_.await_next(c, now_ms);
}

} // namespace ringfork::master
