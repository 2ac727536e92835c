// A library handler as one of the worker's routes, and the public request, responder and
// body writer.
#include "worker/app_route.hpp"

#include <exception>

#include "net/address.hpp"
#include "net/ascii.hpp"
#include "net/query.hpp"
#include "worker/api_exchange.hpp"

namespace ringfork::worker {

// The exchange lives on this stack for the call; when a responder or writer outlives the
// call (kept for later, or a stream still open), it moves to the heap and a body source
// carries the answer on.
void app_route::handle(const request_view& req, http::response_writer& w, deferred& later)
{
    detail::exchange x(w, later, req, *req.env);
    const detail::request_state state{req, *req.env};
    ringfork::request r(state);
    try {
        fn_.answer(r, &x);
    } catch (const std::exception& e) {
        x.handler_threw(e.what());
    } catch (...) {
        x.handler_threw("an exception of unknown type");
    }
    if (x.handles() == 0 && !x.needs_source())
        return; // answered whole while the handler ran: the common case, nothing allocated
    later.source = x.promote()->hand_over();
}

} // namespace ringfork::worker

namespace ringfork {

// The request.

std::string_view request::method() const noexcept { return s_->view.head.method_text; }
std::string_view request::path() const noexcept { return s_->view.path; }
std::string_view request::target() const noexcept { return s_->view.head.target; }
std::string_view request::query_string() const noexcept { return s_->view.head.query; }
std::string_view request::body() const noexcept { return {s_->view.body.data(), s_->view.body.size()}; }
int request::version_minor() const noexcept { return s_->view.head.version_minor; }

std::string_view request::param(std::string_view name) const noexcept
{
    return s_->view.params ? s_->view.params->get(name) : std::string_view();
}

std::optional<std::string> request::query(std::string_view name) const
{
    std::optional<std::string> found;
    net::for_each_query_param(s_->view.head.query, [&](std::string_view key, std::string_view value) {
        if (found || net::decode_query_component(key) != name)
            return;
        found = net::decode_query_component(value);
    });
    return found;
}

std::vector<std::pair<std::string, std::string>> request::query_params() const
{
    std::vector<std::pair<std::string, std::string>> out;
    net::for_each_query_param(s_->view.head.query, [&](std::string_view key, std::string_view value) {
        out.emplace_back(net::decode_query_component(key), net::decode_query_component(value));
    });
    return out;
}

std::optional<std::string_view> request::header(std::string_view name) const noexcept
{
    const http::request& h = s_->view.head;
    for (std::size_t i = 0; i < h.header_count; ++i)
        if (net::iequals(h.headers[i].name, name))
            return h.headers[i].value;
    return std::nullopt;
}

std::vector<std::pair<std::string_view, std::string_view>> request::headers() const
{
    const http::request& h = s_->view.head;
    std::vector<std::pair<std::string_view, std::string_view>> out;
    out.reserve(h.header_count);
    for (std::size_t i = 0; i < h.header_count; ++i)
        out.emplace_back(h.headers[i].name, h.headers[i].value);
    return out;
}

std::string request::peer() const
{
    char text[net::peer_text_max];
    const worker::worker_env& env = s_->env;
    net::peer_ip ip = env.peer && env.peer->family ? *env.peer : net::peer_ip::of_socket(env.client_fd);
    return {text, ip.format(text)};
}

// The responder and the body writer: handles registered with their exchange, which
// re-points them if it moves to the heap when the handler returns.

namespace detail {

exchange_handle::exchange_handle(exchange* x) noexcept : x_(x)
{
    if (x_)
        x_->attach(&x_);
}

exchange_handle::exchange_handle(exchange_handle&& other) noexcept : x_(std::exchange(other.x_, nullptr))
{
    if (x_)
        x_->rebind(&other.x_, &x_);
}

exchange_handle::~exchange_handle()
{
    if (x_)
        x_->detach(&x_);
}

void exchange_handle::swap(exchange_handle& other) noexcept
{
    std::swap(x_, other.x_);
    if (x_)
        x_->rebind(&other.x_, &x_);
    if (other.x_)
        other.x_->rebind(&x_, &other.x_);
}

} // namespace detail

responder& responder::operator=(responder&& other) noexcept
{
    if (this != &other) {
        responder moved(std::move(other));
        swap(moved); // what this held is dropped with `moved`
    }
    return *this;
}

responder::~responder()
{
    if (x_ && !x_->answered())
        x_->drop_unanswered();
}

void responder::send(response r)
{
    if (x_)
        x_->send(r);
}

void responder::send(int status, std::string_view content_type, std::string_view body)
{
    if (x_)
        x_->send(status, content_type, nullptr, body);
}

void responder::send_file(const file_root& root, std::string_view relative)
{
    if (x_)
        x_->send_file(root, relative);
}

body_writer responder::stream(int status, std::string_view content_type, std::vector<header> headers)
{
    if (!x_)
        return body_writer();
    const bool first = !x_->answered();
    x_->start_stream(status, content_type, headers); // logs a refusal when answered already
    return first ? body_writer(x_) : body_writer();
}

bool responder::answered() const noexcept { return x_ && x_->answered(); }
client_ref responder::client() const { return x_ ? client_ref(x_->client()) : client_ref(); }
bool responder::client_connected() const noexcept { return x_ && !x_->client_gone(); }

body_writer& body_writer::operator=(body_writer&& other) noexcept
{
    if (this != &other) {
        body_writer moved(std::move(other));
        swap(moved);
    }
    return *this;
}

body_writer::~body_writer()
{
    if (x_ && x_->streaming())
        x_->cut_off("the body writer was dropped before finish()");
}

bool body_writer::write(std::string_view chunk) { return x_ && x_->write_chunk(chunk); }
std::size_t body_writer::pending() const noexcept { return x_ ? x_->pending() : 0; }
void body_writer::on_drained(ringfork::unique_function<void()> fn)
{
    if (x_)
        x_->on_drained(std::move(fn));
}
void body_writer::on_close(ringfork::unique_function<void()> fn)
{
    if (x_)
        x_->on_close(std::move(fn));
}
client_ref body_writer::client() const { return x_ ? client_ref(x_->client()) : client_ref(); }
bool body_writer::is_open() const noexcept { return x_ && x_->streaming() && !x_->client_gone(); }
void body_writer::finish(std::vector<header> trailers)
{
    if (x_)
        x_->finish_stream(trailers);
}

} // namespace ringfork
