// HTTP routes of the task pool.
#include "worker/task_routes.hpp"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "ipc/task_protocol.hpp"
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

bool valid_task_name(std::string_view name)
{
    if (name.empty() || name.size() > ipc::task_name_max)
        return false;
    for (char c : name)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
            return false;
    return true;
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

} // namespace

task_job make_job(std::string_view name, std::string_view args, std::span<const char> body, bool async)
{
    task_job job;
    ipc::job_request head;
    head.async = async ? 1 : 0;
    head.body_length = static_cast<std::uint32_t>(body.size());
    job.id = random_id();
    std::memcpy(head.id, job.id.data(), ipc::job_id_len);
    // Empty views and spans may have a null data(), which memcpy must never see.
    name.copy(head.name, ipc::task_name_max);
    args.copy(head.args, ipc::task_args_max);
    job.payload.assign(reinterpret_cast<const char*>(&head), sizeof head);
    if (!body.empty())
        job.payload.append(body.data(), body.size());
    job.async = async;
    return job;
}

void task_submit_handler::handle(const request_view& req, http::response_writer& w, deferred& later)
{
    const std::string_view name = req.path.substr(std::string_view("/tasks/").size());
    if (!valid_task_name(name)) {
        http::write_error(w, 404);
        return;
    }
    if (req.head.query.size() > ipc::task_args_max) {
        http::write_error(w, 414);
        return;
    }
    later.source = std::make_unique<task_client>(make_job(name, req.head.query, req.body, wants_async(req.head.query)));
}

void builtin_task_handler::handle(const request_view& req, http::response_writer& w, deferred& later)
{
    if (req.head.query.size() > ipc::task_args_max) {
        http::write_error(w, 414);
        return;
    }
    later.source = std::make_unique<task_client>(make_job(task_, req.head.query, {}, false));
}

file_body write_job_response(http::response_writer& w, const std::string& spool, const std::string& id,
                             const job_result_view& result, bool keep)
{
    file_body body;
    const std::string out_path = ipc::spool_path(spool, id, ".out");
    net::unique_fd fd(::open(out_path.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st{};
    if (!fd && errno != ENOENT) {
        http::write_error(w, 500);
        return body;
    }
    if (fd && fstat(fd.get(), &st) != 0) {
        http::write_error(w, 500);
        return body;
    }
    if (!keep) {
        ::unlink(out_path.c_str()); // the open descriptor keeps the bytes until streamed
        ::unlink(ipc::spool_path(spool, id, ".res").c_str());
    }
    w.start(result.status);
    w.header("Content-Type", "text/plain; charset=utf-8");
    char num[24];
    auto n = fmt::format_to_n(num, sizeof num, "{}", result.signal ? result.signal : result.exit_code);
    w.header(result.signal ? "X-Task-Signal" : "X-Task-Exit-Code", {num, n.size});
    w.header("X-Task-Job", id);
    n = fmt::format_to_n(num, sizeof num, "{}", result.elapsed_ms);
    w.header("X-Task-Elapsed-Ms", {num, n.size});
    // No output file (the task was unknown, or the job never started): an empty body.
    const auto size = fd ? static_cast<std::uint64_t>(st.st_size) : 0;
    w.finish_head(size);
    if (w.context().head || size == 0)
        return body;
    auto f = std::make_shared<open_file>();
    f->fd = std::move(fd);
    f->size = size;
    body.file = std::move(f);
    body.length = size;
    return body;
}

void job_status_handler::handle(const request_view& req, http::response_writer& w, deferred& later)
{
    const std::string_view id = req.path.substr(std::string_view("/tasks/jobs/").size());
    if (!ipc::valid_job_id(id)) {
        http::write_error(w, 404);
        return;
    }
    const std::string sid(id);
    // Small metadata files in the spool; read synchronously (a few dozen bytes).
    net::unique_fd res(::open(ipc::spool_path(spool_, sid, ".res").c_str(), O_RDONLY | O_CLOEXEC));
    ipc::job_result r;
    if (res && ::read(res.get(), &r, sizeof r) == static_cast<ssize_t>(sizeof r) &&
        r.version == ipc::task_stream_version) {
        later.file = write_job_response(w, spool_, sid, {ipc::job_status(r.outcome), r.exit_code, r.signal, r.elapsed_ms},
                                        true);
        return;
    }
    if (::access(ipc::spool_path(spool_, sid, ".run").c_str(), F_OK) == 0) {
        w.start(202);
        w.header("Retry-After", "1");
        w.header("Content-Type", "application/json");
        w.finish(fmt::format("{{\"id\":\"{}\",\"state\":\"running\"}}\n", sid));
        return;
    }
    http::write_error(w, 404);
}

} // namespace ringfork::worker
