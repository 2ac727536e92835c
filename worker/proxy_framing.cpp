// Re-framing for the proxy.
#include "worker/proxy_framing.hpp"

#include <array>
#include <charconv>

#include "net/ascii.hpp"
#include "net/http_syntax.hpp"

namespace ringfork::worker {

namespace {

using http::syntax::equals_lower;
using http::syntax::starts_with_lower;

/// The field names a message's Connection fields list: hop-by-hop by declaration (RFC
/// 9110 §7.6.1). Past `max`, further names are not tracked; the fields they name are
/// forwarded, which is what a sender that lists so many must expect of some proxy.
struct connection_names {
    static constexpr std::size_t max = 32;
    std::array<std::string_view, max> names{};
    std::size_t count = 0;

    void collect(const http::header* fields, std::size_t n)
    {
        for (std::size_t i = 0; i < n; ++i)
            if (equals_lower(fields[i].name, "connection"))
                http::syntax::for_each_element(fields[i].value, [&](std::string_view token) {
                    if (count == max)
                        return false;
                    names[count++] = token;
                    return true;
                });
    }

    [[nodiscard]] bool listed(std::string_view name) const noexcept
    {
        for (std::size_t i = 0; i < count; ++i)
            if (net::iequals(names[i], name))
                return true;
        return false;
    }
};

/// Hop-by-hop by definition (RFC 9110 §7.6.1, RFC 9112 §7.6), plus the framing fields
/// ringfork always writes itself.
bool hop_by_hop(std::string_view name) noexcept
{
    switch (name.size()) {
    case 2:
        return equals_lower(name, "te");
    case 7:
        return equals_lower(name, "upgrade") || equals_lower(name, "trailer");
    case 10:
        return equals_lower(name, "connection") || equals_lower(name, "keep-alive");
    case 14:
        return equals_lower(name, "content-length");
    case 17:
        return equals_lower(name, "transfer-encoding");
    default:
        return starts_with_lower(name, "proxy-");
    }
}

void field(net::byte_buffer& out, std::string_view name, std::string_view value)
{
    out.append(name);
    out.append(": ", 2);
    out.append(value);
    out.append("\r\n", 2);
}

void append_number(net::byte_buffer& out, std::uint64_t v, int base = 10)
{
    char* p = out.reserve_tail(20);
    const auto r = std::to_chars(p, p + 20, v, base);
    out.commit(static_cast<std::size_t>(r.ptr - p));
}

} // namespace

void write_upstream_head(const http::request& req, const net::peer_ip& peer, std::string_view fallback_host,
                         net::byte_buffer& out)
{
    out.append(req.method_text);
    out.append(" ", 1);
    if (!req.target.empty() && req.target.front() == '/') {
        out.append(req.target);
    } else { // absolute-form: its authority became Host; the upstream gets origin-form
        out.append(req.path);
        if (!req.query.empty()) {
            out.append("?", 1);
            out.append(req.query);
        }
    }
    out.append(" HTTP/1.1\r\n");
    field(out, "Host", req.host.empty() ? fallback_host : req.host);

    connection_names named;
    named.collect(req.headers, req.header_count);
    std::string_view forwarded_for[8];
    std::size_t forwarded = 0;
    for (std::size_t i = 0; i < req.header_count; ++i) {
        const http::header& h = req.headers[i];
        if (hop_by_hop(h.name) || equals_lower(h.name, "host") || equals_lower(h.name, "expect") ||
            equals_lower(h.name, "x-forwarded-proto") || equals_lower(h.name, "x-forwarded-host"))
            continue;
        if (equals_lower(h.name, "x-forwarded-for")) {
            if (forwarded < std::size(forwarded_for) && !h.value.empty())
                forwarded_for[forwarded++] = h.value;
            continue;
        }
        if (named.listed(h.name))
            continue;
        field(out, h.name, h.value);
    }
    // X-Forwarded-For: what earlier proxies said, then this client (one line, in order).
    out.append("X-Forwarded-For: ");
    for (std::size_t i = 0; i < forwarded; ++i) {
        out.append(forwarded_for[i]);
        out.append(", ", 2);
    }
    char ip[net::peer_text_max];
    const std::size_t n = peer.format(ip);
    out.append(n > 0 ? std::string_view(ip, n) : std::string_view("unknown"));
    out.append("\r\n", 2);
    field(out, "X-Forwarded-Proto", "http");
    if (!req.host.empty())
        field(out, "X-Forwarded-Host", req.host);
}

void finish_upstream_head(net::byte_buffer& out, upstream_body framing, std::uint64_t length)
{
    switch (framing) {
    case upstream_body::none:
        break;
    case upstream_body::length:
        out.append("Content-Length: ");
        append_number(out, length);
        out.append("\r\n", 2);
        break;
    case upstream_body::chunked:
        out.append("Transfer-Encoding: chunked\r\n");
        break;
    }
    out.append("\r\n", 2);
}

client_body write_client_head(const http::response_head& h, http::response_writer& w)
{
    w.start(h.status, h.reason);
    connection_names named;
    named.collect(h.headers, h.header_count);
    net::byte_buffer& out = w.buffer();
    for (std::size_t i = 0; i < h.header_count; ++i) {
        const http::header& f = h.headers[i];
        if (hop_by_hop(f.name) || equals_lower(f.name, "server") || equals_lower(f.name, "date") || named.listed(f.name))
            continue;
        field(out, f.name, f.value);
    }
    switch (h.framing) {
    case http::response_framing::none:
        // A HEAD answer keeps the length the GET would have had; 204 and 304 carry none.
        if (w.context().head && h.length_declared && h.status != 204 && h.status != 304)
            w.finish_head(h.content_length);
        else
            w.finish_without_body();
        return client_body::none;
    case http::response_framing::content_length:
        w.finish_head(h.content_length);
        return client_body::length;
    case http::response_framing::chunked:
    case http::response_framing::until_close:
        break;
    }
    if (w.context().version_minor >= 1) {
        out.append("Transfer-Encoding: chunked\r\n");
        w.finish_without_body();
        return client_body::chunked;
    }
    w.set_keep_alive(false);
    w.finish_without_body();
    return client_body::close;
}

void append_chunk_line(net::byte_buffer& out, std::size_t size)
{
    append_number(out, size, 16);
    out.append("\r\n", 2);
}

} // namespace ringfork::worker
