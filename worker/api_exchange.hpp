// The library's answer machinery: one exchange per request a library handler takes, shared
// by its responder, its body writer and (once the handler has returned without a whole
// answer) the body source that writes on the connection later. Owns the answer's phases
// and the chunked framing; leaves the socket and the close to the connection table.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_response.hpp"
#include "ringfork/http.hpp"
#include "worker/body_source.hpp"
#include "worker/connections.hpp"
#include "worker/router.hpp"

namespace ringfork::worker {
class static_handler;
}

namespace ringfork::detail {

/// What a handler's request object reads: views valid during the handler call.
struct request_state {
    const worker::request_view& view;
    const worker::worker_env& env;
};

class answer_source;

class exchange {
public:
    /// In the handler: answers go straight to the response writer. After it: to the
    /// connection, through the answer_source attached to it.
    enum class phase : std::uint8_t { in_handler, later };

    /// An exchange on the adapter's stack for the handler call; it is copied to the heap
    /// (promote) only when a responder or writer outlives the call.
    exchange(http::response_writer& w, worker::deferred& later, const worker::request_view& view,
             worker::worker_env& env) noexcept
        : writer_(&w), later_(&later), view_(&view), env_(&env), context_(w.context())
    {
    }

    /// A handle (a responder's or a writer's pointer) now points here.
    void attach(exchange** handle) noexcept;
    /// The handle moved from `from` to `to`.
    void rebind(exchange** from, exchange** to) noexcept;
    /// The handle no longer points here; a heap exchange nobody holds is freed.
    void detach(exchange** handle) noexcept;
    /// Handles still pointing here.
    [[nodiscard]] unsigned handles() const noexcept { return handle_count_; }
    /// The handler returned and something still needs this exchange: a heap copy that
    /// every handle now points to.
    [[nodiscard]] exchange* promote();

    // The answers (each a no-op, with a log line, once answered; dropped once the client left).
    void send(const response& r);
    void send(int status, std::string_view content_type, const std::vector<header>* headers, std::string_view body);
    void send_file(const file_root& root, std::string_view relative);
    void start_stream(int status, std::string_view content_type, const std::vector<header>& headers);
    bool write_chunk(std::string_view chunk);
    void finish_stream(const std::vector<header>& trailers);
    /// A responder was dropped without answering: 500 and a log line.
    void drop_unanswered();
    /// A stream cannot be completed (its writer was dropped before finish(), its handler
    /// threw): the connection is closed after what was sent.
    void cut_off(std::string_view why);
    /// The handler threw `what`: 500 if nothing was sent, else the stream is cut off.
    void handler_threw(std::string_view what);

    [[nodiscard]] bool answered() const noexcept { return answered_; }
    [[nodiscard]] bool streaming() const noexcept { return streaming_ && !finished_; }
    [[nodiscard]] bool client_gone() const noexcept { return gone_; }
    [[nodiscard]] bool is_heap() const noexcept { return heap_; }
    [[nodiscard]] std::size_t pending() const noexcept;
    void on_drained(ringfork::unique_function<void()> fn);
    void on_close(ringfork::unique_function<void()> fn) { more().closed = std::move(fn); }
    /// The client as task calls made for it see it (made on first use).
    [[nodiscard]] const std::shared_ptr<client_state>& client();

    /// The handler returned: the answer goes on, if at all, through the returned body
    /// source; null when it is complete (a heap exchange nobody holds is freed then).
    [[nodiscard]] std::unique_ptr<worker::body_source> hand_over();
    /// Frees a heap exchange that no handle and no source holds.
    void release_if_unheld() noexcept;
    /// Aborts with context: more live handles than a request can have.
    [[noreturn]] static void too_many_handles() noexcept;
    /// Something is left for a body source to do (an answer, a stream, a close).
    [[nodiscard]] bool needs_source() const noexcept { return !answered_ || (streaming_ && !finished_) || failed_; }

private:
    friend class answer_source;

    /// Runs `fn(source_context&)` on the connection: inside a source callback directly,
    /// else by visiting it; false (and the client marked gone) when it has closed.
    template <typename F> bool on_connection(F&& fn);
    void write_whole(http::response_writer& w, int status, std::string_view content_type,
                     const std::vector<header>* headers, std::string_view body);
    bool refuse(std::string_view what);
    void end_cut_off(worker::source_context& ctx);
    [[nodiscard]] std::string_view method() const noexcept;
    [[nodiscard]] std::string_view target() const noexcept;

    http::response_writer* writer_;        ///< In the handler only.
    worker::deferred* later_;              ///< In the handler only.
    const worker::request_view* view_;     ///< In the handler only.
    worker::worker_env* env_;
    http::response_context context_;
    static constexpr unsigned max_handles = 4; ///< A responder and a writer, with room to spare.
    exchange** handle_[max_handles]; ///< The first handle_count_ are set.
    unsigned handle_count_ = 0;
    answer_source* source_ = nullptr;      ///< Later, while the connection lasts.
    worker::source_context* active_ = nullptr; ///< During the source's own callback.
    /// What only an answer that outlives the handler needs: kept apart, so the common case
    /// (answered while the handler runs) builds and destroys none of it.
    struct later_part {
        worker::connection_handle conn;
        std::string method;                ///< Kept from the request for log lines.
        std::string target;
        ringfork::unique_function<void()> drained;
        ringfork::unique_function<void()> closed;
        std::shared_ptr<client_state> client; ///< Task calls made for this request.
    };
    [[nodiscard]] later_part& more();
    std::unique_ptr<later_part> more_;
    std::uint64_t body_bytes_ = 0;         ///< A stream's content bytes so far.
    phase phase_ = phase::in_handler;
    bool heap_ = false;
    bool answered_ = false;
    bool streaming_ = false;
    bool chunked_ = false;
    bool finished_ = false;
    bool gone_ = false;
    bool failed_ = false;                  ///< Cut off: the source closes the connection.
};

inline void exchange::attach(exchange** handle) noexcept
{
    if (handle_count_ == max_handles) [[unlikely]]
        too_many_handles();
    handle_[handle_count_++] = handle;
}

inline void exchange::rebind(exchange** from, exchange** to) noexcept
{
    for (unsigned i = 0; i < handle_count_; ++i)
        if (handle_[i] == from)
            handle_[i] = to;
}

inline void exchange::detach(exchange** handle) noexcept
{
    for (unsigned i = 0; i < handle_count_; ++i)
        if (handle_[i] == handle) {
            handle_[i] = handle_[--handle_count_];
            break;
        }
    if (heap_)
        release_if_unheld();
}

/// The body source of an answer given after the handler returned (or a stream it began).
class answer_source final : public worker::body_source {
public:
    explicit answer_source(detail::exchange* x) noexcept;
    ~answer_source() override;

    void proceed(worker::source_context& ctx) override;
    void on_completion(worker::source_context&, std::uint8_t, const io_uring_cqe&) override {}
    void stop(worker::source_context& ctx) noexcept override;
    [[nodiscard]] bool busy() const noexcept override { return false; }
    [[nodiscard]] bool abandoned_at_eof() const noexcept override { return true; }
    [[nodiscard]] std::uint64_t deadline_ms(const worker::worker_env& env) const noexcept override;

private:
    detail::exchange* x_;
    std::uint64_t waiting_since_ms_ = 0;
};

} // namespace ringfork::detail
