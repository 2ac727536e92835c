// HTTP routes of the task pool.
#include "worker/task_routes.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>

#include <fmt/format.h>

#include "ipc/job_json.hpp"
#include "ipc/task_protocol.hpp"
#include "net/log.hpp"
#include "net/query.hpp"
#include "worker/chunked_body.hpp"
#include "worker/file_cache.hpp"
#include "worker/job_cancel.hpp"
#include "worker/job_follow.hpp"

namespace ringfork::worker {

namespace {

std::uint64_t unix_ms()
{
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::uint64_t(ts.tv_sec) * 1000 + std::uint64_t(ts.tv_nsec) / 1'000'000;
}

void exit_headers(http::response_writer& w, int exit_code, int signal, std::uint64_t elapsed_ms)
{
    char num[24];
    auto n = fmt::format_to_n(num, sizeof num, "{}", signal ? signal : exit_code);
    w.header(signal ? "X-Task-Signal" : "X-Task-Exit-Code", {num, n.size});
    n = fmt::format_to_n(num, sizeof num, "{}", elapsed_ms);
    w.header("X-Task-Elapsed-Ms", {num, n.size});
}

/// A whole-file body for `fd` (already open), `size` bytes.
file_body file_of(net::unique_fd fd, std::uint64_t size)
{
    file_body body;
    auto f = std::make_shared<open_file>();
    f->fd = std::move(fd);
    f->size = size;
    body.file = std::move(f);
    body.length = size;
    return body;
}

} // namespace

spool_access& spool_for(const std::string& path)
{
    static std::map<std::string, spool_access> attached;
    return attached.try_emplace(path, path).first->second;
}

const ipc::spool* spool_access::get()
{
    if (spool_)
        return &*spool_;
    if (failed_)
        return nullptr;
    std::string error;
    spool_ = ipc::spool::attach(path_, {::geteuid(), ::getegid()}, error);
    if (!spool_) {
        failed_ = true;
        net::log::error("task spool: {}", error);
        return nullptr;
    }
    return &*spool_;
}

task_request make_request(std::string id, std::string_view name, std::string_view args, std::span<const char> body,
                          bool async, bool stream)
{
    task_request r;
    r.id = std::move(id);
    r.task = name;
    r.args = args;
    if (async)
        r.spooled_body = body.size();
    else
        r.body.assign(body.data(), body.size());
    r.async = async;
    r.stream = stream;
    return r;
}

void task_submit_handler::handle(const request_view& req, http::response_writer& w, deferred& later)
{
    const std::string_view name = req.path.substr(std::string_view("/tasks/").size());
    if (!ipc::valid_task_name(name)) {
        http::write_error(w, 404);
        return;
    }
    if (req.head.query.size() > ipc::task_args_max) {
        http::write_error(w, 414);
        return;
    }
    const bool async = net::query_has(req.head.query, "async", "1");
    // Streaming needs chunked framing and trailers: HTTP/1.1 only; 1.0 clients get the
    // answer whole.
    const bool stream = !async && net::query_has(req.head.query, "stream", "1") && req.head.version_minor >= 1;
    std::string id;
    if (async) {
        // The body goes to the spool now, so the answer never waits for a runner to read it.
        const ipc::spool* spool = spool_.get();
        if (spool == nullptr) {
            http::write_error(w, 503);
            return;
        }
        id = ipc::new_job_id();
        if (const std::string why = spool->write_input(id, {req.body.data(), req.body.size()}); !why.empty()) {
            net::log::warn("task {}: {}", name, why);
            http::write_error(w, 503);
            return;
        }
    }
    later.source = std::make_unique<task_client>(make_request(std::move(id), name, req.head.query, req.body, async, stream),
                                                 spool_.path());
}

void builtin_task_handler::handle(const request_view& req, http::response_writer& w, deferred& later)
{
    if (req.head.query.size() > ipc::task_args_max) {
        http::write_error(w, 414);
        return;
    }
    later.source = std::make_unique<task_client>(make_request({}, task_, req.head.query, {}, false, false), spool_);
}

file_body write_job_response(http::response_writer& w, const std::string& spool_path, const std::string& id,
                             const job_result_view& result, bool keep)
{
    const ipc::spool* spool = spool_for(spool_path).get();
    int err = ENOENT;
    net::unique_fd fd = spool ? spool->open_read(id, ipc::spool::file::out, err) : net::unique_fd{};
    struct stat st{};
    if ((!fd && err != ENOENT) || (fd && ::fstat(fd.get(), &st) != 0)) {
        http::write_error(w, 500);
        return {};
    }
    if (!keep && spool)
        spool->remove_job(id); // the open descriptor keeps the bytes until they are streamed
    w.start(result.status);
    w.header("Content-Type", "text/plain; charset=utf-8");
    exit_headers(w, result.exit_code, result.signal, result.elapsed_ms);
    w.header("X-Task-Job", id);
    // No output file (the job never started, or the spool is full): an empty body.
    const auto size = fd ? static_cast<std::uint64_t>(st.st_size) : 0;
    w.finish_head(size);
    if (w.context().head || size == 0)
        return {};
    return file_of(std::move(fd), size);
}

void job_status_handler::handle(const request_view& req, http::response_writer& w, deferred& later)
{
    std::string_view rest = req.path.substr(std::string_view("/tasks/jobs/").size());
    const std::string_view id = rest.substr(0, rest.find('/'));
    rest.remove_prefix(id.size());
    const bool output = rest == "/output";
    const bool stderr_file = rest == "/stderr";
    if (!ipc::valid_job_id(id) || !(rest.empty() || output || stderr_file)) {
        http::write_error(w, 404);
        return;
    }
    if (req.head.verb == http::method::delete_) {
        if (!rest.empty()) {
            http::write_error(w, 405, "Allow: GET, HEAD\r\n");
            return;
        }
        later.source = std::make_unique<job_cancel>(std::string(id));
        return;
    }
    const ipc::spool* spool = spool_.get();
    if (spool == nullptr) {
        http::write_error(w, 503);
        return;
    }
    const auto state = spool->read_state(id);
    if (!state) {
        http::write_error(w, 404);
        return;
    }
    const bool ended = ipc::ended(state->state);
    if (!output && !stderr_file) {
        w.start(ended ? 200 : 202);
        if (!ended)
            w.header("Retry-After", "1");
        w.header("Content-Type", "application/json");
        w.finish(ipc::job_state_json(id, *state, unix_ms()));
        return;
    }
    if (output && net::query_has(req.head.query, "follow", "1") && req.head.version_minor >= 1 && !w.context().head) {
        // From the start, then as it grows, until it ends: chunks, then trailers.
        w.start(200);
        w.header("Content-Type", "text/plain; charset=utf-8");
        w.header("X-Task-Job", id);
        finish_chunked_head(w);
        later.source = std::make_unique<job_follow>(spool_.path(), std::string(id));
        return;
    }
    int err = 0;
    net::unique_fd fd = spool->open_read(id, output ? ipc::spool::file::out : ipc::spool::file::err, err);
    struct stat st{};
    if ((!fd && err != ENOENT) || (fd && ::fstat(fd.get(), &st) != 0)) {
        // Something other than the job's own file under its name (a link, a FIFO): refused.
        http::write_error(w, 404);
        return;
    }
    w.start(200);
    w.header("Content-Type", "text/plain; charset=utf-8");
    w.header("X-Task-State", ipc::state_name(state->state));
    if (ended)
        exit_headers(w, state->exit_code, state->signal, state->elapsed_ms);
    const auto size = fd ? static_cast<std::uint64_t>(st.st_size) : 0;
    w.finish_head(size);
    if (w.context().head || size == 0)
        return;
    later.file = file_of(std::move(fd), size);
}

} // namespace ringfork::worker
