// An app that exercises the library's API for tests/process/test_library.py: answers now
// and later, from other threads, dropped responders, exceptions, streams with backpressure
// and a client that leaves, request views, files, every hook (each hook prints a line the
// test looks for), and task calls (api_test_tasks.cpp).
#include <ringfork/ringfork.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace {

std::atomic<unsigned> streams_closed{0};

void say(const std::string& line)
{
    std::fprintf(stderr, "api-test-app: %s\n", line.c_str());
}

/// Responders waiting for an answer; touched only on the loop's thread.
std::map<unsigned, ringfork::responder> waiting;
unsigned next_id = 0;

/// Answers later: another thread sleeps, then posts the answer back to the loop, which
/// owns the responder (other threads never touch it).
void later(ringfork::request& req, ringfork::responder res)
{
    const int ms = std::atoi(std::string(req.param("ms")).c_str());
    const unsigned id = next_id++;
    waiting.emplace(id, std::move(res));
    std::thread([loop = ringfork::current_loop(), ms, id] {
        std::this_thread::sleep_for(std::chrono::milliseconds(ms));
        loop.post([ms, id] {
            auto it = waiting.find(id);
            it->second.send(200, "text/plain", "later " + std::to_string(ms));
            waiting.erase(it);
        });
    }).detach();
}

/// Streams `n` chunks of 64 KiB, each written once the last has drained.
struct chunk_pump : std::enable_shared_from_this<chunk_pump> {
    ringfork::body_writer out;
    unsigned left = 0;
    std::string chunk = std::string(64 * 1024, 'x');

    void next()
    {
        if (left == 0) {
            out.finish({{"X-Chunks-Pending-At-End", std::to_string(out.pending())}});
            return;
        }
        --left;
        chunk[0] = static_cast<char>('a' + left % 26);
        if (!out.write(chunk))
            return;
        out.on_drained([self = shared_from_this()] { self->next(); });
    }
};

void stream(ringfork::request& req, ringfork::responder res)
{
    auto pump = std::make_shared<chunk_pump>();
    pump->left = static_cast<unsigned>(std::atoi(std::string(req.param("n")).c_str()));
    pump->out = res.stream(200, "application/octet-stream");
    pump->out.on_close([] {
        ++streams_closed;
        say("stream closed by the client");
    });
    pump->next();
}

} // namespace

void add_task_routes(ringfork::app& app); // api_test_tasks.cpp

int main(int argc, char** argv)
{
    ringfork::app app;
    add_task_routes(app);
    const char* root_dir = std::getenv("API_TEST_ROOT");
    const ringfork::file_root root = app.files_root(root_dir ? root_dir : "/");

    app.get("/sync", [](ringfork::request&, ringfork::responder res) { res.send(200, "text/plain", "sync"); });
    app.get("/later/{ms}", later);
    app.get("/drop", [](ringfork::request&, ringfork::responder) {});
    app.get("/drop-later", [](ringfork::request&, ringfork::responder res) {
        ringfork::current_loop().post([res = std::move(res)]() mutable { ringfork::responder gone = std::move(res); });
    });
    app.get("/throw", [](ringfork::request&, ringfork::responder) -> void { throw std::runtime_error("boom"); });
    app.get("/throw-mid-stream", [](ringfork::request&, ringfork::responder res) {
        ringfork::body_writer w = res.stream(200, "text/plain");
        w.write("partial");
        throw std::runtime_error("boom mid-stream");
    });
    app.get("/twice", [](ringfork::request&, ringfork::responder res) {
        res.send(200, "text/plain", "first");
        res.send(201, "text/plain", "second");
    });
    app.get("/stream/{n}", stream);
    app.get("/streams-closed", [](ringfork::request&, ringfork::responder res) {
        res.send(200, "text/plain", std::to_string(streams_closed.load()));
    });
    app.get("/echo/{a}/{*rest}", [](ringfork::request& req, ringfork::responder res) {
        std::string out;
        out += "method=" + std::string(req.method()) + "\n";
        out += "path=" + std::string(req.path()) + "\n";
        out += "a=" + std::string(req.param("a")) + "\n";
        out += "rest=" + std::string(req.param("rest")) + "\n";
        out += "q=" + req.query("q").value_or("<none>") + "\n";
        out += "missing=" + req.query("missing").value_or("<none>") + "\n";
        out += "x-test=" + std::string(req.header("x-TEST").value_or("<none>")) + "\n";
        out += "peer=" + req.peer() + "\n";
        out += "headers=" + std::to_string(req.headers().size()) + "\n";
        res.send(ringfork::response::text(200, out).set("X-Echo", "1"));
    });
    app.post("/echo-body", [](ringfork::request& req, ringfork::responder res) {
        res.send(200, "application/octet-stream", req.body());
    });
    app.get("/file/{*path}", [root](ringfork::request& req, ringfork::responder res) {
        res.send_file(root, req.param("path"));
    });
    app.get("/bad-header", [](ringfork::request&, ringfork::responder res) {
        res.send(ringfork::response::text(200, "x").set("X-Bad", "a\r\nSet-Cookie: pwned=1"));
    });

    app.on_starting([] { say("hook on_starting"); });
    app.on_ready([] { say("hook on_ready"); });
    app.on_reload([] { say("hook on_reload"); });
    app.on_exit([] { say("hook on_exit"); });
    app.on_worker_exit([](const ringfork::worker_exit& e) {
        say("hook on_worker_exit slot=" + std::to_string(e.slot) + " pid=" + std::to_string(e.pid) +
            " signal=" + std::to_string(e.signal) + " expected=" + std::to_string(e.expected) + " reason=" + e.reason);
    });
    app.on_worker_start([](ringfork::worker_start& w) {
        say("hook on_worker_start slot=" + std::to_string(w.slot()));
        // READY waits for a set-up finished on another thread, as a connection pool's would.
        std::function<void()> ready = w.defer_ready();
        ringfork::loop_ref loop = ringfork::current_loop();
        const char* delay = std::getenv("API_TEST_START_DELAY_MS");
        const int ms = delay ? std::atoi(delay) : 200;
        std::thread([loop, ready, ms]() mutable {
            std::this_thread::sleep_for(std::chrono::milliseconds(ms));
            loop.post([ready] {
                say("deferred start done");
                ready();
            });
        }).detach();
    });
    app.on_drain([] { say("hook on_drain"); });
    return app.run(argc, argv);
}
