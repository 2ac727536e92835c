// libFuzzer target for a whole connection fed from bytes: the first byte picks how the
// input is split into receives, the rest is what a client sent. Drives worker::http_session
// with the demo routes and a body-echo route, as the loop would, and checks that every
// response is well formed and output only grows by whole responses.
#include <cstdint>
#include <cstdlib>
#include <cstring>
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
    static worker::router routes = [] {
        worker::router r;
        const worker::method_mask post_put = worker::bit(http::method::post) | worker::bit(http::method::put);
        for (const std::string& refused : {r.add("/plaintext", worker::get_head, &plain),
                                           r.add("/json", worker::get_head, &json), r.add("/echo", post_put, &body_echo),
                                           r.add_prefix("/echo/", post_put, &body_echo)})
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
    }
    if (!closed && session.mid_request()) {
        session.timeout(out, env);
        check(session.closed());
    }
    check(stats.requests + stats.parse_errors <= input.size());
    return 0;
}
