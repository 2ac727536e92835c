// One connection's HTTP/1.1 state machine.
#include "worker/http_session.hpp"

#include <algorithm>
#include <cstring>

#include "net/address.hpp"
#include "worker/access_log.hpp"
#include "worker/file_stream.hpp"
#include "worker/router.hpp"

namespace ringfork::worker {

namespace {

constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";

http::response_context context_for(const http::request& req, const worker_env& env)
{
    return {req.version_minor, req.keep_alive && !env.draining, req.verb == http::method::head};
}

enum class lookup : std::uint8_t { bad_path, not_found, found };

/// Normalises the request's path into env.scratch (`path` views it) and finds its route.
lookup find_route(const http::request& req, worker_env& env, std::string_view& path, router::match& route)
{
    if (env.scratch.size() < req.path.size())
        env.scratch.resize(req.path.size());
    const long n = http::normalize_path(req.path, {env.scratch.data(), req.path.size()});
    if (n < 0)
        return lookup::bad_path;
    path = {env.scratch.data(), std::size_t(n)};
    return env.routes.find(path, req.verb, route) ? lookup::found : lookup::not_found;
}

} // namespace

http_session::verdict http_session::on_data(std::span<char> data, net::byte_buffer& out, worker_env& env,
                                            std::uint64_t now_ms)
{
    if (streaming()) {
        // A streamed body: decoded into the window while there is room; the rest (more
        // body, later requests) is held until the source takes some, and the connection
        // stops receiving meanwhile (input_paused).
        if (!data.empty())
            progress_ms_ = now_ms;
        if (in_.empty()) {
            const std::size_t used = feed_stream(data, env);
            in_.append(data.data() + used, data.size() - used);
        } else {
            in_.append(data.data(), data.size());
            pump_stream(env);
        }
        if (closed_ && !streaming())
            in_.release();
        return closed_ ? verdict::close_after_send : verdict::keep_open;
    }
    if (closed_)
        return verdict::close_after_send; // input after a close decision is discarded
    if (waiting_) {
        in_.append(data.data(), data.size()); // waits behind the body source
        return verdict::keep_open;
    }
    if (!data.empty())
        progress_ms_ = now_ms;
    if (in_.empty()) {
        // Fast path: whole requests are handled straight from the receive buffer; only a
        // partial tail is copied.
        const std::size_t used = process(data, out, env, now_ms);
        if ((!closed_ || streaming()) && used < data.size()) {
            started_ms_ = now_ms;
            in_.append(data.data() + used, data.size() - used);
        }
    } else {
        in_.append(data.data(), data.size());
        const std::size_t used = process({in_.data(), in_.size()}, out, env, now_ms);
        in_.consume(used);
        if (used > 0 && !in_.empty())
            started_ms_ = now_ms;
    }
    if (closed_ && !streaming()) {
        in_.release();
        return verdict::close_after_send;
    }
    return closed_ ? verdict::close_after_send : verdict::keep_open;
}

std::size_t http_session::process(std::span<char> buf, net::byte_buffer& out, worker_env& env,
                                  std::uint64_t now_ms)
{
    std::size_t pos = 0;
    http::request req;
    while (pos < buf.size() && !closed_ && !waiting_ && out.size() < output_high_water) {
        const std::span<char> rest = buf.subspan(pos);
        const http::parse_result r = http::parse_request(rest, req, env.settings.limits);
        if (r.state == http::parse_status::need_more)
            break;
        if (r.state == http::parse_status::error) {
            ++env.stats.parse_errors;
            fail(r.status, out, env, req.version_minor);
            break;
        }
        const std::size_t head = r.consumed;
        if (req.framing == http::body_framing::none) {
            dispatch(req, {}, out, env, now_ms);
            pos += head;
            continue;
        }
        if (!in_body_ && route_streams(req, env)) {
            // Dispatched at its head; the body follows through the window.
            if (req.expect_continue && req.version_minor == 1 && rest.size() == head)
                out.append(continue_line);
            stream_ = std::make_unique<body_stream>(env.settings.limits.max_body);
            stream_->streamed = stream_->active = true;
            stream_->chunked = req.framing == http::body_framing::chunked;
            stream_->left = req.content_length;
            if (!stream_->chunked && stream_->left == 0)
                stream_->active = false;
            dispatch(req, {}, out, env, now_ms, true);
            pos += head;
            if (!waiting_ && streaming()) {
                // The handler answered at once and leaves the body unread: close after it.
                stream_.reset();
                closed_ = true;
                break;
            }
            pos += feed_stream(rest.subspan(head), env);
            break;
        }
        if (req.framing == http::body_framing::content_length) {
            const std::uint64_t length = req.content_length;
            if (rest.size() - head < length) {
                in_body_ = true;
                if (req.expect_continue && !continue_sent_ && req.version_minor == 1) {
                    out.append(continue_line);
                    continue_sent_ = true;
                }
                break;
            }
            dispatch(req, rest.subspan(head, length), out, env, now_ms);
            pos += head + length;
            reset_body();
            continue;
        }
        // Chunked: decode in place right after the head; progress survives partial input
        // because the request always starts at the front of the buffer it is parsed from.
        in_body_ = true;
        if (req.expect_continue && !continue_sent_ && req.version_minor == 1 && rest.size() == head) {
            out.append(continue_line);
            continue_sent_ = true;
        }
        if (!chunked_)
            chunked_ = std::make_unique<chunked_state>(env.settings.limits.max_body);
        chunked_state& c = *chunked_;
        const std::span<char> raw = rest.subspan(head + c.raw);
        const std::span<char> dst = rest.subspan(head + c.decoded);
        const auto step = c.decoder.feed(raw, dst);
        c.raw += step.consumed;
        c.decoded += step.produced;
        if (step.error_status) {
            ++env.stats.parse_errors;
            fail(step.error_status, out, env, req.version_minor);
            break;
        }
        if (!step.done)
            break;
        dispatch(req, rest.subspan(head, c.decoded), out, env, now_ms);
        pos += head + c.raw;
        reset_body();
    }
    return closed_ && !streaming() ? buf.size() : pos;
}

bool http_session::route_streams(const http::request& req, worker_env& env)
{
    if (req.verb == http::method::other || req.verb == http::method::connect || req.path == "*")
        return false;
    std::string_view path;
    router::match route;
    return find_route(req, env, path, route) == lookup::found && route.handler_for_method && route.handler_for_method->streams_body();
}

std::size_t http_session::feed_stream(std::span<char> data, worker_env& env)
{
    if (!streaming() || stream_->window.size() >= stream_window || data.empty())
        return 0;
    body_stream& b = *stream_;
    const std::size_t room = stream_window - b.window.size();
    std::size_t used = 0;
    if (!b.chunked) {
        used = static_cast<std::size_t>(std::min<std::uint64_t>(b.left, std::min(data.size(), room)));
        b.window.append(data.data(), used);
        b.left -= used;
        b.active = b.left > 0;
    } else {
        const auto step = b.decoder.feed(data, {b.window.reserve_tail(room), room});
        b.window.commit(step.produced);
        used = step.consumed;
        if (step.error_status) {
            // The body cannot be read on: its source answers (or closes), nothing more of
            // this connection's input is read.
            ++env.stats.parse_errors;
            b.error = step.error_status;
            b.active = false;
            closed_ = true;
            used = data.size();
        } else if (step.done) {
            b.active = false;
        }
    }
    b.event = b.event || used > 0 || !b.active;
    return used;
}

void http_session::pump_stream(worker_env& env)
{
    if (!streaming() || in_.empty())
        return;
    in_.consume(feed_stream({in_.data(), in_.size()}, env));
}

streamed_body http_session::body() const noexcept
{
    if (!stream_)
        return {};
    const body_stream& b = *stream_;
    return {b.streamed, b.streamed && !b.active && b.error == 0, b.error, b.window.size(), b.taken};
}

std::size_t http_session::take_body(net::byte_buffer& into, std::size_t max)
{
    if (!stream_)
        return 0;
    const std::size_t n = std::min(max, stream_->window.size());
    into.append(stream_->window.data(), n);
    stream_->window.consume(n);
    stream_->taken += n;
    return n;
}

void http_session::end_of_input(worker_env& env)
{
    if (!streaming())
        return;
    ++env.stats.parse_errors;
    stream_->active = false;
    stream_->error = 400;
    stream_->event = true;
    closed_ = true;
    in_.release();
}

void http_session::reset_body() noexcept
{
    in_body_ = false;
    continue_sent_ = false;
    chunked_.reset();
}

void http_session::dispatch(const http::request& req, std::span<const char> body, net::byte_buffer& out,
                            worker_env& env, std::uint64_t now_ms, bool streamed)
{
    ++env.stats.requests;
    http::response_writer w(out, env.date, context_for(req, env));
    if (!w.context().keep_alive) {
        closed_ = true;
        client_close_ = !req.keep_alive; // the client asked for it, so it sends nothing more
    }
    if (req.verb == http::method::other || req.verb == http::method::connect) {
        http::write_error(w, 501); // an origin server: no tunnels
    } else if (req.path == "*") {
        // OPTIONS * asks about the server as a whole.
        w.start(200);
        w.header_value("Allow", env.routes.allow_all());
        w.finish({});
    } else {
        std::string_view path;
        router::match route;
        const lookup found = find_route(req, env, path, route);
        if (found == lookup::bad_path) {
            // A target that is not a valid path breaks the request grammar: answer and close.
            w.set_keep_alive(false);
            closed_ = true;
            http::write_error(w, 400);
        } else if (found == lookup::not_found) {
            http::write_error(w, 404);
        } else if (!route.handler_for_method) {
            std::string allow = "Allow: " + *route.allow + "\r\n";
            http::write_error(w, 405, allow);
        } else {
            deferred later;
            route.handler_for_method->handle({req, path, body, now_ms, &route.params, &env, streamed}, w, later);
            if (w.rejected()) {
                // The writer replaced the response with a 500 (a header with CR, LF or NUL):
                // nothing the handler meant to follow it may be sent, and the connection closes.
                later = deferred{};
                closed_ = true;
            }
            if (later.file.file && later.file.length > 0)
                later.source = std::make_unique<file_stream>(std::move(later.file));
            if (later.source) {
                // The source finishes the response; it is counted and logged then. What
                // the handler already wrote (a head) is part of it.
                exchange_record& x = later.source->exchange;
                x.context = w.context();
                x.status = w.status();
                x.body_bytes = w.body_length();
                if (env.log && env.log->enabled()) {
                    const http::request_summary s = http::summarize(req);
                    x.method = s.method;
                    x.target = s.target;
                    x.referer = s.referer;
                    x.user_agent = s.user_agent;
                }
                if (!w.context().keep_alive)
                    closed_ = true;
                pending_ = std::move(later.source);
                waiting_ = true;
                return;
            }
        }
    }
    account(req, w.status(), w.body_length(), env);
}

void http_session::source_done(const body_source& source, worker_env& env)
{
    const exchange_record& x = source.exchange;
    account({x.method, x.target, x.referer, x.user_agent, x.context.version_minor}, x.status, x.body_bytes, env);
    waiting_ = false;
    if (!x.context.keep_alive)
        closed_ = true; // the source's answer closes the connection (an HTTP/1.0 stream, an error)
    if (streaming()) {
        // Answered before its body was all in (an error, or an upstream that did not wait
        // for it): the rest is not read, so the connection closes after the answer.
        closed_ = true;
        in_.release();
    }
    stream_.reset();
}

void http_session::account(const http::request_summary& r, unsigned status, std::uint64_t body_bytes,
                           worker_env& env)
{
    env.stats.count_response(status);
    ++completed_;
    if (env.log && env.log->enabled()) {
        char peer[net::peer_text_max];
        const std::size_t n = env.peer ? env.peer->format(peer) : 0;
        env.log->record({peer, n}, r, status, body_bytes, env.wall_now);
    }
}



void http_session::fail(unsigned status, net::byte_buffer& out, worker_env& env, int version_minor)
{
    http::response_writer w(out, env.date, {version_minor == 0 ? 0 : 1, false, false});
    http::write_error(w, status);
    // The request could not be read: the log shows what is known.
    account({"-", "-", {}, {}, version_minor}, status, w.body_length(), env);
    closed_ = true;
}

void http_session::timeout(net::byte_buffer& out, worker_env& env)
{
    ++env.stats.timeouts;
    fail(408, out, env, 1);
    in_.release();
}

void http_session::trim() noexcept
{
    if (in_.empty())
        in_.release();
}

} // namespace ringfork::worker
