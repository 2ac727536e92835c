// The task side of the API test app: function tasks for every way a job ends, and routes
// that call them from handlers (tests/process/test_library.py, LibraryTasks).
#include <ringfork/ringfork.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

unsigned query_number(ringfork::request& req, std::string_view name)
{
    return static_cast<unsigned>(std::strtoul(req.query(name).value_or("0").c_str(), nullptr, 10));
}

/// Writes a call's chunks into a streamed body, pausing the call while the client is behind.
struct chunk_relay : std::enable_shared_from_this<chunk_relay> {
    ringfork::body_writer out;
    ringfork::task_call call;
    std::size_t high_water = 256 * 1024;
    std::size_t peak = 0;

    bool on_chunk(std::string_view chunk)
    {
        out.write(chunk);
        peak = std::max(peak, out.pending());
        if (out.pending() < high_water)
            return true;
        out.on_drained([self = shared_from_this()] { self->call.resume(); });
        return false;
    }
};

} // namespace

void add_task_routes(ringfork::app& app)
{
    app.task("echo", [](ringfork::task_context& ctx, std::string_view input) {
        ctx.progress("got " + std::to_string(input.size()) + " bytes");
        return std::string(input);
    });
    app.task("fail", [](ringfork::task_context&, std::string_view) -> std::string {
        throw std::runtime_error("bad input");
    });
    app.task("crash", [](ringfork::task_context&, std::string_view) -> std::string { std::abort(); });
    app.task("spin", [](ringfork::task_context&, std::string_view) -> std::string {
        volatile unsigned long n = 0;
        for (;;)
            n = n + 1; // ignores cancellation: only SIGKILL ends it
    });
    app.task("slow", [](ringfork::task_context& ctx, std::string_view) -> std::string {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!ctx.cancelled() && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return "slow ended";
    });
    app.task("drip", [](ringfork::task_context& ctx, std::string_view) {
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (!ctx.cancelled() && std::chrono::steady_clock::now() < until) {
            ctx.emit(std::string(1024, 'd')); // slowly: far from the output cap
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return std::string("drip ended");
    });
    app.task("chunks", [](ringfork::task_context& ctx, std::string_view input) {
        const unsigned long n = std::strtoul(std::string(input).c_str(), nullptr, 10);
        std::string chunk(64 * 1024, 'x');
        for (unsigned long i = 0; i < n && !ctx.cancelled(); ++i) {
            chunk[0] = static_cast<char>('a' + i % 26);
            ctx.emit(chunk);
        }
        return std::string("end");
    });

    // POST /call/NAME?timeout=MS&grace=MS: calls NAME with the body and answers with the
    // outcome's line, then the output.
    app.post("/call/{name}", [](ringfork::request& req, ringfork::responder res) {
        ringfork::call_options o;
        o.timeout = std::chrono::milliseconds(query_number(req, "timeout"));
        o.grace = std::chrono::milliseconds(query_number(req, "grace"));
        o.client = res.client();
        std::string name(req.param("name"));
        ringfork::call_task(name, std::string(req.body()), std::move(o),
                            [res = std::move(res), name](ringfork::task_result r) mutable {
                                std::fprintf(stderr, "api-test-app: call %s: %s\n", name.c_str(),
                                             std::string(ringfork::outcome_name(r.what)).c_str());
                                res.send(200, "text/plain",
                                         "outcome=" + std::string(ringfork::outcome_name(r.what)) +
                                             " signal=" + std::to_string(r.signal) + " message=" + r.message +
                                             "\n" + r.output);
                            });
    });

    // GET /call-stream/N: the chunks task's output (?task=drip: the drip task's) streamed
    // with backpressure; a trailer tells the most the writer held.
    app.get("/call-stream/{n}", [](ringfork::request& req, ringfork::responder res) {
        auto relay = std::make_shared<chunk_relay>();
        relay->out = res.stream(200, "application/octet-stream");
        ringfork::call_options o;
        o.client = relay->out.client();
        o.on_chunk = [relay](std::string_view chunk) { return relay->on_chunk(chunk); };
        const std::string task = req.query("task").value_or("chunks");
        relay->call = ringfork::call_task(task, std::string(req.param("n")), std::move(o),
                                          [relay](ringfork::task_result r) {
                                              relay->out.write(r.ok() ? "|end" : "|" + r.message);
                                              relay->out.finish({{"X-Peak-Pending", std::to_string(relay->peak)}});
                                              relay->call = {};
                                          });
    });

    // GET /call-cancel: starts the slow task and cancels it from a later completion.
    app.get("/call-cancel", [](ringfork::request&, ringfork::responder res) {
        auto call = std::make_shared<ringfork::task_call>();
        *call = ringfork::call_task("slow", "", {}, [res = std::move(res)](ringfork::task_result r) mutable {
            res.send(200, "text/plain", "outcome=" + std::string(ringfork::outcome_name(r.what)));
        });
        std::thread([loop = ringfork::current_loop(), call] {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            loop.post([call] { call->cancel(); });
        }).detach();
    });
}
