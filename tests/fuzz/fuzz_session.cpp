// libFuzzer target for a whole connection fed from bytes: the first byte picks how the
// input is split into receives, the rest is what a client sent. Drives worker::http_session
// with the demo routes, a body-echo route and a route that streams its bodies (as the
// proxy does; the harness plays its source, taking the body a few bytes at a time), as
// the loop would, and checks that every response is well formed, output only grows by
// whole responses and a streamed body's window stays bounded.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "worker/app_route.hpp"
#include "worker/demo.hpp"
#include "worker/http_session.hpp"

using namespace ringfork;

namespace {

struct echo final : worker::handler {
    void handle(const worker::request_view& req, http::response_writer& w, worker::deferred&) override
    {
        w.start(200);
        w.finish({req.body.data(), req.body.size()});
    }
};

/// Writes nothing: the harness takes the body and ends the response itself.
struct quiet_source final : worker::body_source {
    void proceed(worker::source_context&) override {}
    void on_completion(worker::source_context&, std::uint8_t, const io_uring_cqe&) override {}
    void stop(worker::source_context&) noexcept override {}
    [[nodiscard]] bool busy() const noexcept override { return false; }
};

struct stream_sink final : worker::handler {
    void handle(const worker::request_view&, http::response_writer&, worker::deferred& later) override
    {
        later.source = std::make_unique<quiet_source>();
    }
    [[nodiscard]] bool streams_body() const noexcept override { return true; }
};

void check(bool ok)
{
    if (!ok)
        std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    if (size < 1)
        return 0;
    static worker::app_route plain{worker::plaintext};
    static worker::app_route json{worker::json};
    static echo body_echo;
    static stream_sink sink;
    static worker::router routes = [] {
        worker::router r;
        const worker::method_mask post_put = worker::bit(http::method::post) | worker::bit(http::method::put);
        for (const std::string& refused : {r.add("/plaintext", worker::get_head, &plain),
                                           r.add("/json", worker::get_head, &json), r.add("/echo", post_put, &body_echo),
                                           r.add_prefix("/echo/", post_put, &body_echo),
                                           r.add_prefix("/up/", worker::get_head | post_put, &sink)})
            check(refused.empty());
        return r;
    }();
    http::date_cache date;
    date.update(0);
    ipc::worker_settings settings;
    settings.limits.max_body = 4096;
    settings.limits.max_header_bytes = 2048;
    settings.limits.max_request_line = 512;
    ipc::worker_stats stats;
    std::string scratch;
    worker::worker_env env{routes, date, settings, stats, scratch};
    worker::http_session session;
    net::byte_buffer out;

    const unsigned piece = 1u + data[0] % 37u; // receive sizes 1..37 bytes
    std::vector<char> input(data + 1, data + size);
    bool closed = false;
    std::unique_ptr<worker::body_source> source;
    std::uint64_t taken = 0;
    // The source's part: take some of a streamed body, and end the response once the body
    // is complete or broke off (or at once, for a request without one).
    const auto play_source = [&] {
        for (int round = 0; round < 4; ++round) {
            if (!source)
                source = session.take_source();
            if (!source)
                return;
            const worker::streamed_body b = session.body();
            check(b.available <= worker::http_session::stream_window);
            check(!b.complete || b.error == 0);
            net::byte_buffer into;
            taken += session.take_body(into, piece * 3u);
            check(session.body().taken == taken);
            (void)session.resume(out, env, 0);
            const worker::streamed_body after = session.body();
            if (!after.streamed || after.complete || after.error) {
                session.source_done(*source, env);
                source.reset();
                taken = 0;
                closed = session.resume(out, env, 0) == worker::http_session::verdict::close_after_send;
            }
        }
    };
    for (std::size_t at = 0; at < input.size() && !closed; at += piece) {
        const std::size_t n = std::min<std::size_t>(piece, input.size() - at);
        std::vector<char> chunk(input.begin() + static_cast<long>(at), input.begin() + static_cast<long>(at + n));
        const std::size_t before = out.size();
        closed = session.on_data({chunk.data(), chunk.size()}, out, env, at) ==
                 worker::http_session::verdict::close_after_send;
        const std::string_view added(out.data() + before, out.size() - before);
        // Everything written is whole responses (or an interim 100), each starting with a status line.
        check(added.empty() || added.starts_with("HTTP/1.1 "));
        if (out.size() > (1u << 20))
            out.clear(); // as if sent
        if (!closed && session.mid_request())
            check(session.buffered() <= input.size());
        play_source();
    }
    if (!closed && session.mid_request() && !source && !session.streaming()) {
        session.timeout(out, env);
        check(session.closed());
    }
    check(stats.requests + stats.parse_errors <= input.size());
    return 0;
}
