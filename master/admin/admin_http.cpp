// The admin listener's HTTP/1.1 server.
//
// Every socket is non-blocking and every buffer bounded: a connection holds at most one
// request head (8 KiB) and one response, reads nothing while a response is unsent, and is
// closed on the deadlines of admin_server::limits; when the table is full a new connection
// takes the slot of the oldest idle one (poll_table). So a slow or hostile client costs
// the master a little memory, never a blocked loop, and a probe always gets a slot.
#include "master/admin/admin_http.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "net/error.hpp"
#include "net/http_parser.hpp"
#include "net/http_response.hpp"
#include "net/log.hpp"
#include "net/socket.hpp"

namespace ringfork::master {

namespace {

/// The request-head bounds: the whole head (request line included) within max_head, no
/// request body at all (a declared one is answered 413 by the parser).
constexpr http::limits head_limits{.max_request_line = admin_server::max_head,
                                   .max_header_bytes = admin_server::max_head,
                                   .max_headers = http::max_header_slots,
                                   .max_body = 0};

/// The text of an error answer.
std::string error_text(unsigned status)
{
    switch (status) {
    case 400: return "bad request\n";
    case 413: return "the admin listener takes no request bodies\n";
    case 431: return "request head too large\n";
    case 505: return "HTTP/1.1 only\n";
    default: return fmt::format("{}\n", http::reason_phrase(status));
    }
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
    constexpr std::string_view text = "text/plain; charset=utf-8";
    // One response at a time: a pipelined request waits in `in` until this one is sent.
    while (c.out.empty() && !c.dead && !c.close_after) {
        http::request req;
        const http::parse_result r = http::parse_request(std::span<const char>(c.in.data(), c.in.size()), req,
                                                         head_limits);
        if (r.state == http::parse_status::need_more) {
            // on_readable keeps at most max_head + 1 bytes, and past max_head the parser
            // answers 431 itself; this only guards that bound.
            if (c.in.size() > max_head)
                respond(c, 431, text, error_text(431), false);
            break;
        }
        if (r.state == http::parse_status::error) {
            respond(c, r.status, text, error_text(r.status), false); // and close: nothing after it is read
            c.in.clear();
        } else {
            const bool head_only = req.verb == http::method::head;
            if (req.framing == http::body_framing::chunked) {
                respond(c, 413, text, error_text(413), head_only);
            } else if (req.verb != http::method::get && !head_only) {
                respond(c, 405, text, "GET or HEAD only\n", false, "Allow: GET, HEAD\r\n");
            } else {
                c.close_after = !req.keep_alive;
                const admin_response a = handler_(req.path);
                respond(c, a.status, a.content_type, a.body, head_only);
            }
            c.in.erase(0, r.consumed);
        }
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
                        status, http::reason_phrase(status), type, body.size(), extra_headers,
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
