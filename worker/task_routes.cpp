// HTTP routes of the task pool.
#include "worker/task_routes.hpp"

#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>

#include <fmt/format.h>

#include "ipc/job_json.hpp"
#include "ipc/task_protocol.hpp"
#include "net/error.hpp"
#include "net/log.hpp"
#include "worker/file_cache.hpp"

namespace ringfork::worker {

namespace {

std::string random_id()
{
    unsigned char raw[16];
    std::size_t got = 0;
    while (got < sizeof raw) {
        const ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n > 0)
            got += static_cast<std::size_t>(n);
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string id;
    for (unsigned char c : raw) {
        id += hex[c >> 4];
        id += hex[c & 15];
    }
    return id;
}

/// True when the query string has "async=1" as one of its parameters.
bool wants_async(std::string_view query)
{
    while (!query.empty()) {
        const auto amp = query.find('&');
        if (query.substr(0, amp) == "async=1")
            return true;
        if (amp == std::string_view::npos)
            break;
        query.remove_prefix(amp + 1);
    }
    return false;
}

std::uint64_t unix_ms()
{
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::uint64_t(ts.tv_sec) * 1000 + std::uint64_t(ts.tv_nsec) / 1'000'000;
}

/// The spool the loop names by path when a synchronous job ends.
spool_access& spool_for(const std::string& path)
{
    static std::map<std::string, spool_access> attached;
    return attached.try_emplace(path, path).first->second;
}

/// Writes all of `body` to `fd`; false on a short write (out of space) or an error.
bool write_all(int fd, std::span<const char> body)
{
    while (!body.empty()) {
        const ssize_t n = ::write(fd, body.data(), body.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        body = body.subspan(static_cast<std::size_t>(n));
    }
    return true;
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

task_job make_job(std::string id, std::string_view name, std::string_view args, std::span<const char> body,
                  bool async, bool body_in_file)
{
    task_job job;
    job.id = id.empty() ? random_id() : std::move(id);
    ipc::job_request head;
    head.async = async ? 1 : 0;
    head.flags = body_in_file ? ipc::stream_body_in_file : 0;
    head.body_length = static_cast<std::uint32_t>(body.size());
    ipc::set_text(head.id, job.id);
    ipc::set_text(head.name, name);
    ipc::set_text(head.args, args);
    job.payload.assign(reinterpret_cast<const char*>(&head), sizeof head);
    if (!body_in_file && !body.empty())
        job.payload.append(body.data(), body.size());
    job.async = async;
    return job;
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
    const bool async = wants_async(req.head.query);
    std::string id;
    if (async) {
        // The body goes to the spool now, so the answer never waits for a runner to read it.
        const ipc::spool* spool = spool_.get();
        if (spool == nullptr) {
            http::write_error(w, 503);
            return;
        }
        id = random_id();
        int err = 0;
        const net::unique_fd in = spool->create(id, ipc::spool::file::in, err);
        if (!in || !write_all(in.get(), req.body)) {
            net::log::warn("task {}: {}", name,
                           net::sys_error("write", ipc::spool::name(id, ipc::spool::file::in), in ? ENOSPC : err));
            spool->remove(id, ipc::spool::file::in);
            http::write_error(w, 503);
            return;
        }
    }
    later.source = std::make_unique<task_client>(make_job(std::move(id), name, req.head.query, req.body, async, async));
}

void builtin_task_handler::handle(const request_view& req, http::response_writer& w, deferred& later)
{
    if (req.head.query.size() > ipc::task_args_max) {
        http::write_error(w, 414);
        return;
    }
    later.source = std::make_unique<task_client>(make_job({}, task_, req.head.query, {}, false, false));
}

file_body write_job_response(http::response_writer& w, const std::string& spool_path, const std::string& id,
                             const job_result_view& result, bool keep)
{
    if (result.status == 503 || result.status == 404) {
        // Rejected before it ran: the stream wire carries the reason in exit_code.
        const auto why = static_cast<ipc::reject_reason>(result.exit_code);
        w.start(result.status);
        w.header("Content-Type", "text/plain; charset=utf-8");
        if (result.status == 503)
            w.header("Retry-After", "1");
        w.header("X-Task-Job", id);
        w.finish(fmt::format("{}\n", ipc::reject_text(result.status == 404 ? ipc::reject_reason::unknown_task : why)));
        return {};
    }
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
    const ipc::spool* spool = spool_.get();
    if (!ipc::valid_job_id(id) || !(rest.empty() || output || stderr_file) || spool == nullptr) {
        http::write_error(w, spool == nullptr && ipc::valid_job_id(id) ? 503 : 404);
        return;
    }
    // A state record, or the marker of an async job the master has not read yet (queued).
    auto state = spool->read_state(id);
    if (!state) {
        int err = 0;
        if (!spool->open_read(id, ipc::spool::file::run, err)) {
            http::write_error(w, 404);
            return;
        }
        state.emplace();
        state->state = ipc::job_state::queued;
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
