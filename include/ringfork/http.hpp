// The HTTP side of the ringfork library: the request a handler sees, the responder it
// answers with (at once or later), and the writer of a streamed body. Everything here runs
// on the worker's loop thread; code on other threads hands work back with loop_ref::post
// (ringfork/loop.hpp).
#pragma once

#include "ringfork/function.hpp"

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace ringfork {

namespace detail {
struct request_state;
class exchange;
struct client_state;
} // namespace detail

class file_root;
class body_writer;

/// One header field.
struct header {
    std::string name;
    std::string value;
};

/// A whole response: status, fields and body. Content-Length, Date, Server and Connection
/// are written by ringfork; a field with CR, LF or NUL turns the answer into a 500.
struct response {
    int status = 200;
    std::vector<header> headers;
    std::string body;

    /// A text/plain; charset=utf-8 response.
    [[nodiscard]] static response text(int status, std::string body);
    /// An application/json response.
    [[nodiscard]] static response json(int status, std::string body);
    /// Adds a field; returns *this for chaining.
    response& set(std::string name, std::string value);
};

/// The request being handled. Its views stay valid until the handler returns: copy what a
/// later answer needs.
class request {
public:
    /// "GET", "POST", ...
    [[nodiscard]] std::string_view method() const noexcept;
    /// The path, percent-decoded once and with dot-segments removed ("/users/42").
    [[nodiscard]] std::string_view path() const noexcept;
    /// The request-target as sent ("/users/42?x=1").
    [[nodiscard]] std::string_view target() const noexcept;
    /// The query string as sent, without '?'.
    [[nodiscard]] std::string_view query_string() const noexcept;
    /// The first value of query parameter `name`, percent- and '+'-decoded; nullopt when absent.
    [[nodiscard]] std::optional<std::string> query(std::string_view name) const;
    /// Every query parameter in order, decoded.
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> query_params() const;
    /// The value of path parameter `name` of the matched pattern (`/users/{id}`); empty if none.
    [[nodiscard]] std::string_view param(std::string_view name) const noexcept;
    /// The first field named `name` (case-insensitive); nullopt when absent.
    [[nodiscard]] std::optional<std::string_view> header(std::string_view name) const noexcept;
    /// Every field, in order.
    [[nodiscard]] std::vector<std::pair<std::string_view, std::string_view>> headers() const;
    /// The body, decoded (chunked), at most --max-body bytes.
    [[nodiscard]] std::string_view body() const noexcept;
    /// The client's IP address ("192.0.2.7", "::1"), or "" when unknown.
    [[nodiscard]] std::string peer() const;
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    [[nodiscard]] int version_minor() const noexcept;

    explicit request(const detail::request_state& s) noexcept : s_(&s) {}

private:
    const detail::request_state* s_;
};

/// The client of one request as task calls made for it see it (call_options::client): when
/// it goes away, they are cancelled. Copyable and cheap; empty from an empty responder.
class client_ref {
public:
    client_ref() noexcept = default;
    explicit client_ref(std::shared_ptr<detail::client_state> s) noexcept : s_(std::move(s)) {}
    /// Still connected: false for an empty one, and once the client has gone.
    [[nodiscard]] bool connected() const noexcept;
    explicit operator bool() const noexcept { return static_cast<bool>(s_); }
    [[nodiscard]] const std::shared_ptr<detail::client_state>& state() const noexcept { return s_; }

private:
    std::shared_ptr<detail::client_state> s_;
};

namespace detail {

/// What a responder and a body writer share: a pointer to their request's exchange,
/// registered with it so that it follows the exchange when that moves. Move-only; the
/// derived class decides what dropping it means, then this detaches.
class exchange_handle {
public:
    exchange_handle(const exchange_handle&) = delete;
    exchange_handle& operator=(const exchange_handle&) = delete;

protected:
    exchange_handle() noexcept = default;
    explicit exchange_handle(exchange* x) noexcept;
    exchange_handle(exchange_handle&& other) noexcept;
    ~exchange_handle();
    /// Trades exchanges with `other` (a moved-to temporary: its destruction then drops
    /// what this held, as the derived class means it).
    void swap(exchange_handle& other) noexcept;

    exchange* x_ = nullptr;
};

} // namespace detail

/// How a handler answers its request: once, now or later. Move-only; keep it (in a
/// lambda, a container) to answer from another completion on the same worker. Dropped
/// without an answer, it answers 500 and logs a line.
class responder : detail::exchange_handle {
public:
    responder() noexcept = default;
    explicit responder(detail::exchange* x) noexcept : exchange_handle(x) {}
    responder(responder&& other) noexcept = default;
    responder& operator=(responder&& other) noexcept;
    ~responder();

    /// Answers with `r`.
    void send(response r);
    /// Answers with `status`, one Content-Type and a body.
    void send(int status, std::string_view content_type, std::string_view body);
    /// Answers with the file `relative` beneath `root` through the static file machinery
    /// (ranges, conditionals, precompressed siblings, large bodies spliced). Only while the
    /// handler runs: the request's fields decide the answer.
    void send_file(const file_root& root, std::string_view relative);
    /// Starts a streamed response (chunked) and returns its writer.
    [[nodiscard]] body_writer stream(int status, std::string_view content_type, std::vector<header> headers = {});
    /// An answer was sent or a stream started.
    [[nodiscard]] bool answered() const noexcept;
    /// The client is still connected (false once it has gone: answers are then dropped).
    [[nodiscard]] bool client_connected() const noexcept;
    /// This request's client, for call_options::client (take it before moving the responder).
    [[nodiscard]] client_ref client() const;

};

/// The body of a streamed response: chunks go out as they are written, with backpressure.
/// Move-only. Dropped before finish(), the response is cut off and the connection closed.
class body_writer : detail::exchange_handle {
public:
    body_writer() noexcept = default;
    explicit body_writer(detail::exchange* x) noexcept : exchange_handle(x) {}
    body_writer(body_writer&& other) noexcept = default;
    body_writer& operator=(body_writer&& other) noexcept;
    ~body_writer();

    /// Queues a chunk; false when the client has gone (nothing is sent then).
    bool write(std::string_view chunk);
    /// Bytes written that the client's socket has not taken yet.
    [[nodiscard]] std::size_t pending() const noexcept;
    /// Calls `fn` once, when everything written so far has been sent: write more then.
    void on_drained(unique_function<void()> fn);
    /// Calls `fn` once if the client goes away before finish().
    void on_close(unique_function<void()> fn);
    /// The stream can still be written to.
    [[nodiscard]] bool is_open() const noexcept;
    /// This request's client, for call_options::client.
    [[nodiscard]] client_ref client() const;
    /// Ends the body, with optional trailer fields.
    void finish(std::vector<header> trailers = {});
};

/// A route's handler: a function or function object called as `f(request&, responder)` (a
/// lambda, a function, a std::function), which answers through the responder, now or
/// later. Copies share one callable. ringfork builds the responder straight into the call's
/// argument, so a handler that answers at once moves nothing.
class handler {
public:
    handler() noexcept = default;
    template <typename F, typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, handler> &&
                                                      std::is_invocable_v<std::decay_t<F>&, request&, responder>>>
    handler(F&& f)
    {
        auto m = std::make_shared<model<std::decay_t<F>>>(std::forward<F>(f));
        if constexpr (std::is_pointer_v<std::decay_t<F>> || is_std_function<std::decay_t<F>>::value)
            if (!m->f)
                return; // a null pointer or an empty std::function: an empty handler
        impl_ = std::move(m);
    }

    /// Calls it; it must not be empty.
    void operator()(request& req, responder res) const { impl_->call(req, std::move(res)); }
    /// Calls it with a new responder for `x`: how a route's handler is called.
    void answer(request& req, detail::exchange* x) const { impl_->answer(req, x); }
    /// Holds a callable.
    explicit operator bool() const noexcept { return static_cast<bool>(impl_); }

private:
    template <typename T> struct is_std_function : std::false_type {};
    template <typename R, typename... A> struct is_std_function<std::function<R(A...)>> : std::true_type {};

    struct callable {
        virtual ~callable() = default;
        virtual void call(request& req, responder&& res) = 0;
        virtual void answer(request& req, detail::exchange* x) = 0;
    };
    template <typename F> struct model final : callable {
        template <typename G> explicit model(G&& g) : f(std::forward<G>(g)) {}
        void call(request& req, responder&& res) override { f(req, std::move(res)); }
        void answer(request& req, detail::exchange* x) override { f(req, responder(x)); }
        F f;
    };

    std::shared_ptr<callable> impl_;
};

/// A directory whose files handlers may answer with (responder::send_file). Made by
/// app::file_root before run(); opened in each worker, every open confined beneath it.
class file_root {
public:
    file_root() noexcept = default;
    explicit file_root(std::size_t index) noexcept : index_(index) {}
    [[nodiscard]] std::size_t index() const noexcept { return index_; }

private:
    std::size_t index_ = ~std::size_t(0);
};

/// Options of a directory served from files.
struct file_options {
    std::string index = "index.html"; ///< Served for a directory URL ending in '/'.
    bool autoindex = false;           ///< List a directory without an index file.
    bool dotfiles = false;            ///< Serve path segments starting with '.'.
};

} // namespace ringfork
