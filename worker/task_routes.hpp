// HTTP routes of the task pool: POST /tasks/NAME (sync, or ?async=1), GET /tasks/jobs/ID,
// and the demo's GET /prime and GET /fib. Owns turning requests into jobs and reading
// finished jobs from the spool; leaves talking to the pool to the loop.
#pragma once

#include <string>

#include "worker/router.hpp"
#include "worker/task_client.hpp"

namespace ringfork::worker {

/// The parts of ipc::job_result the response needs.
struct job_result_view {
    unsigned status = 500;
    int exit_code = -1;
    int signal = 0;
    unsigned elapsed_ms = 0;
};

/// POST /tasks/NAME: runs task NAME with the request body on stdin.
class task_submit_handler final : public handler {
public:
    void handle(const request_view& req, http::response_writer& w, deferred& later) override;
};

/// GET /prime?n=, GET /fib?n=: a built-in task, run synchronously in the pool.
class builtin_task_handler final : public handler {
public:
    explicit builtin_task_handler(std::string task) : task_(std::move(task)) {}
    void handle(const request_view& req, http::response_writer& w, deferred& later) override;

private:
    std::string task_;
};

/// GET /tasks/jobs/ID: 202 while queued or running, the result when done, 404 if unknown.
class job_status_handler final : public handler {
public:
    explicit job_status_handler(std::string spool) : spool_(std::move(spool)) {}
    void handle(const request_view& req, http::response_writer& w, deferred& later) override;

private:
    std::string spool_;
};

/// A job for task `name` with `args` and the request body, under a fresh random id.
[[nodiscard]] task_job make_job(std::string_view name, std::string_view args, std::span<const char> body, bool async);

/// Writes the head of a finished job's response for `result` and returns the output body to
/// stream (the spool file, opened and, unless `keep`, unlinked). Used by the loop (sync jobs)
/// and by job_status_handler.
[[nodiscard]] file_body write_job_response(http::response_writer& w, const std::string& spool, const std::string& id,
                                           const job_result_view& result, bool keep);

} // namespace ringfork::worker
