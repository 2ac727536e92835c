// The library's answer machinery.
#include "worker/api_exchange.hpp"

#include <charconv>
#include <cstdlib>
#include <utility>

#include "net/log.hpp"
#include "worker/app_runtime.hpp"
#include "worker/app_tasks.hpp"

namespace ringfork::detail {

namespace {

void append_chunk_head(net::byte_buffer& out, std::size_t n)
{
    char size[20];
    const auto r = std::to_chars(size, size + sizeof size, n, 16);
    out.append(size, static_cast<std::size_t>(r.ptr - size));
    out.append("\r\n", 2);
}

bool clean_field(std::string_view name, std::string_view value) noexcept
{
    if (name.empty())
        return false;
    for (std::string_view s : {name, value})
        for (char c : s)
            if (c == '\r' || c == '\n' || c == '\0')
                return false;
    return name.find(':') == std::string_view::npos;
}

} // namespace

void exchange::too_many_handles() noexcept
{
    net::log::error("more than {} live handles to one request's answer", max_handles);
    std::abort();
}

void exchange::release_if_unheld() noexcept
{
    if (heap_ && handle_count_ == 0 && !source_)
        delete this;
}

exchange* exchange::promote()
{
    auto* h = new exchange(std::move(*this)); // the stack one is left behind
    h->heap_ = true;
    // What a log line needs once the request's bytes are gone.
    h->more().method = view_->head.method_text;
    h->more().target = view_->head.target;
    for (unsigned i = 0; i < handle_count_; ++i)
        *handle_[i] = h;
    handle_count_ = 0;
    return h;
}

std::string_view exchange::method() const noexcept
{
    return view_ ? view_->head.method_text : more_ ? std::string_view(more_->method) : std::string_view();
}

std::string_view exchange::target() const noexcept
{
    return view_ ? view_->head.target : more_ ? std::string_view(more_->target) : std::string_view();
}

exchange::later_part& exchange::more()
{
    if (!more_)
        more_ = std::make_unique<later_part>();
    return *more_;
}

bool exchange::refuse(std::string_view what)
{
    if (gone_)
        return true; // the client left: answers are dropped without a word
    net::log::error("{} {}: {} after the response was sent; ignored", method(), target(), what);
    return true;
}

template <typename F> bool exchange::on_connection(F&& fn)
{
    if (active_) {
        fn(*active_);
        return true;
    }
    if (gone_ || !more_ || !more_->conn.table || !more_->conn.table->visit(more_->conn, fn)) {
        gone_ = true;
        return false;
    }
    return true;
}

inline void exchange::write_whole(http::response_writer& w, int status, std::string_view content_type,
                           const std::vector<header>* headers, std::string_view body)
{
    if (status < 100 || status > 999) {
        net::log::error("{} {}: status {} is not a three-digit code; answering 500", method(), target(), status);
        status = 500;
        content_type = "text/plain; charset=utf-8";
        headers = nullptr;
        body = "Internal Server Error\n";
    }
    w.start(static_cast<unsigned>(status));
    if (!content_type.empty())
        w.header_value("Content-Type", content_type);
    if (headers)
        for (const header& h : *headers)
            w.header(h.name, h.value);
    w.finish(body);
}

void exchange::send(int status, std::string_view content_type, const std::vector<header>* headers,
                    std::string_view body)
{
    if (answered_) {
        refuse("an answer");
        return;
    }
    answered_ = true;
    if (phase_ == phase::in_handler) [[likely]] {
        write_whole(*writer_, status, content_type, headers, body);
        return;
    }
    on_connection([&](worker::source_context& ctx) {
        http::response_writer w(ctx.out(), env_->date, context_);
        write_whole(w, status, content_type, headers, body);
        source_->exchange.status = w.status();
        source_->exchange.body_bytes = w.body_length();
        source_->exchange.context = w.context();
        ctx.send();
        ctx.done();
    });
}

void exchange::send(const response& r)
{
    // Content-Type travels among the fields here.
    send(r.status, {}, &r.headers, r.body);
}

void exchange::send_file(const file_root& root, std::string_view relative)
{
    if (answered_) {
        refuse("send_file");
        return;
    }
    if (phase_ != phase::in_handler) {
        net::log::error("{} {}: send_file is answered while the handler runs (the request's fields decide it); "
                        "answering 500",
                        method(), target());
        send(500, "text/plain; charset=utf-8", nullptr, "Internal Server Error\n");
        return;
    }
    answered_ = true;
    worker::app_runtime* rt = env_->app;
    worker::static_handler* files = rt ? rt->root(root) : nullptr;
    if (!files) {
        net::log::error("{} {}: send_file with a file root this app did not make; answering 500", method(), target());
        http::write_error(*writer_, 500);
        return;
    }
    rt->serve_file(*files, *view_, relative, *writer_, *later_);
}

void exchange::start_stream(int status, std::string_view content_type, const std::vector<header>& headers)
{
    if (answered_) {
        refuse("a stream");
        return;
    }
    answered_ = true;
    streaming_ = true;
    auto head = [&](http::response_writer& w) {
        w.start(static_cast<unsigned>(status >= 100 && status <= 999 ? status : 500));
        if (!content_type.empty())
            w.header_value("Content-Type", content_type);
        for (const header& h : headers)
            w.header(h.name, h.value);
        chunked_ = w.finish_head_unknown_length();
        context_ = w.context();
    };
    if (phase_ == phase::in_handler) {
        head(*writer_);
        return;
    }
    on_connection([&](worker::source_context& ctx) {
        http::response_writer w(ctx.out(), env_->date, context_);
        head(w);
        source_->exchange.status = w.status();
        source_->exchange.context = w.context();
        ctx.send();
    });
}

bool exchange::write_chunk(std::string_view chunk)
{
    if (!streaming_ || finished_ || gone_)
        return false;
    if (chunk.empty())
        return true; // an empty chunk would end the body
    body_bytes_ += chunk.size();
    if (context_.head)
        return true;
    auto append = [&](net::byte_buffer& out) {
        if (chunked_) {
            append_chunk_head(out, chunk.size());
            out.append(chunk);
            out.append("\r\n", 2);
        } else {
            out.append(chunk);
        }
    };
    if (phase_ == phase::in_handler) {
        append(writer_->buffer());
        writer_->count_body(chunk.size());
        return true;
    }
    return on_connection([&](worker::source_context& ctx) {
        append(ctx.out());
        ctx.send();
        ctx.refresh_deadline();
    });
}

void exchange::finish_stream(const std::vector<header>& trailers)
{
    if (!streaming_ || finished_)
        return;
    finished_ = true;
    auto append = [&](net::byte_buffer& out) {
        if (!chunked_ || context_.head)
            return;
        out.append("0\r\n", 3);
        for (const header& t : trailers) {
            if (!clean_field(t.name, t.value)) {
                net::log::error("{} {}: trailer field '{}' dropped: empty, or with ':', CR, LF or NUL", method(),
                                target(), t.name);
                continue;
            }
            out.append(t.name);
            out.append(": ", 2);
            out.append(t.value);
            out.append("\r\n", 2);
        }
        out.append("\r\n", 2);
    };
    if (phase_ == phase::in_handler) {
        append(writer_->buffer());
        return;
    }
    on_connection([&](worker::source_context& ctx) {
        append(ctx.out());
        source_->exchange.body_bytes = body_bytes_;
        ctx.send();
        ctx.done();
    });
}

void exchange::drop_unanswered()
{
    if (answered_ || gone_)
        return;
    net::log::error("{} {}: the handler's responder was dropped without an answer; answering 500", method(), target());
    send(500, "text/plain; charset=utf-8", nullptr, "Internal Server Error\n");
}

void exchange::cut_off(std::string_view why)
{
    if (finished_ || gone_)
        return;
    finished_ = true;
    failed_ = true;
    net::log::error("{} {}: {}; the response is cut off and the connection closed", method(), target(), why);
    if (phase_ == phase::later)
        on_connection([&](worker::source_context& ctx) { end_cut_off(ctx); });
}

// What was written goes out, with no end of body after it, and the connection closes
// behind it: the client sees the body cut off rather than a clean end.
void exchange::end_cut_off(worker::source_context& ctx)
{
    source_->exchange.context.keep_alive = false;
    source_->exchange.body_bytes = body_bytes_;
    if (ctx.output_pending())
        ctx.send();
    ctx.done();
}

void exchange::handler_threw(std::string_view what)
{
    net::log::error("{} {}: the handler threw: {}", method(), target(), what);
    if (!answered_)
        send(500, "text/plain; charset=utf-8", nullptr, "Internal Server Error\n");
    else if (streaming_)
        cut_off("the stream's handler threw");
}

std::size_t exchange::pending() const noexcept
{
    if (active_)
        return active_->output_bytes();
    std::size_t n = 0;
    if (phase_ == phase::later && !gone_ && more_ && more_->conn.table)
        more_->conn.table->visit(more_->conn, [&](worker::source_context& ctx) { n = ctx.output_bytes(); });
    return n;
}

void exchange::on_drained(ringfork::unique_function<void()> fn)
{
    more().drained = std::move(fn);
    if (phase_ == phase::later && !gone_ && more_->drained)
        on_connection([](worker::source_context& ctx) { ctx.wake(); });
}

const std::shared_ptr<client_state>& exchange::client()
{
    std::shared_ptr<client_state>& c = more().client;
    if (!c) {
        c = std::make_shared<client_state>();
        c->gone = gone_;
    }
    return c;
}

std::unique_ptr<worker::body_source> exchange::hand_over()
{
    const bool wanted = needs_source();
    phase_ = phase::later;
    writer_ = nullptr;
    later_ = nullptr;
    view_ = nullptr;
    if (!wanted) {
        release_if_unheld();
        return nullptr;
    }
    return std::make_unique<answer_source>(this);
}

answer_source::answer_source(detail::exchange* x) noexcept : x_(x)
{
    x_->source_ = this;
}

answer_source::~answer_source()
{
    x_->source_ = nullptr;
    x_->more().conn = {};
    x_->release_if_unheld();
}

// All output has gone (or the source was just attached): a failed stream closes; a
// writer waiting for the client to drain gets its callback.
void answer_source::proceed(worker::source_context& ctx)
{
    if (!x_->more().conn.table) {
        x_->more().conn = ctx.handle();
        waiting_since_ms_ = ctx.env().now_ms;
    }
    if (x_->failed_) {
        x_->end_cut_off(ctx);
        return;
    }
    if (ctx.output_pending()) {
        ctx.send();
        return;
    }
    if (x_->more().drained) {
        ringfork::unique_function<void()> fn = std::exchange(x_->more().drained, nullptr);
        x_->active_ = &ctx;
        fn();
        x_->active_ = nullptr;
    }
}

void answer_source::stop(worker::source_context&) noexcept
{
    x_->gone_ = true;
    x_->more().conn = {};
    if (ringfork::unique_function<void()> fn = std::exchange(x_->more().closed, nullptr))
        fn();
    if (const std::shared_ptr<client_state> c = x_->more().client)
        c->left();
}

// A stream moves its deadline with every write (the send timeout); an answer still to
// come waits as long as a task call could take, from when the handler returned.
std::uint64_t answer_source::deadline_ms(const worker::worker_env& env) const noexcept
{
    if (x_->streaming_)
        return env.now_ms + env.settings.send_timeout_ms;
    const std::uint64_t wait = std::max<std::uint64_t>(env.settings.send_timeout_ms, env.settings.task_timeout_ms + 5000);
    // Calls made for this request with longer timeouts of their own hold it longer.
    const std::uint64_t held = x_->more_ && x_->more_->client ? x_->more_->client->hold_until_ms : 0;
    return std::max(waiting_since_ms_ + wait, held);
}

} // namespace ringfork::detail
