// HTTP routes of the task pool: POST /tasks/NAME (sync, or ?async=1), GET
// /tasks/jobs/ID[/output|/stderr], and the demo's GET /prime and GET /fib. Owns turning
// requests into jobs and reading jobs from the spool; leaves talking to the master to the
// task client.
#pragma once

#include <optional>
#include <string>

#include "ipc/spool.hpp"
#include "worker/router.hpp"
#include "worker/task_client.hpp"

namespace ringfork::worker {

/// The parts of a finished job the response needs.
struct job_result_view {
    unsigned status = 500;
    int exit_code = -1;
    int signal = 0;
    unsigned elapsed_ms = 0;
};

/// The spool as this worker reads it: attached on first use with the same checks the master
/// made (owner, mode, no link), then used through its directory descriptor only.
class spool_access {
public:
    explicit spool_access(std::string path) : path_(std::move(path)) {}
    /// The spool, or null when it cannot be attached (logged once).
    [[nodiscard]] const ipc::spool* get();
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

private:
    std::string path_;
    std::optional<ipc::spool> spool_;
    bool failed_ = false;
};

/// The spool at `path`, attached once per worker (the task client reads outputs there).
[[nodiscard]] spool_access& spool_for(const std::string& path);

/// POST /tasks/NAME: runs task NAME with the request body as its input. With ?async=1 the
/// body goes to <id>.in first and the answer is 202 once the job is queued; with ?stream=1
/// the output comes as a chunked body while the job writes it.
class task_submit_handler final : public handler {
public:
    explicit task_submit_handler(std::string spool) : spool_(std::move(spool)) {}
    void handle(const request_view& req, http::response_writer& w, deferred& later) override;

private:
    spool_access spool_;
};

/// GET /prime?n=, GET /fib?n=: a built-in task, run synchronously in the pool.
class builtin_task_handler final : public handler {
public:
    builtin_task_handler(std::string task, std::string spool) : task_(std::move(task)), spool_(std::move(spool)) {}
    void handle(const request_view& req, http::response_writer& w, deferred& later) override;

private:
    std::string task_;
    std::string spool_;
};

/// GET /tasks/jobs/ID: the job's state as JSON (202 while queued or running, 200 once it
/// ended); /output and /stderr: what it wrote so far (/output?follow=1: until it ends);
/// DELETE /tasks/jobs/ID: cancel it. 404 for an unknown id.
class job_status_handler final : public handler {
public:
    explicit job_status_handler(std::string spool) : spool_(std::move(spool)) {}
    void handle(const request_view& req, http::response_writer& w, deferred& later) override;

private:
    spool_access spool_;
};

/// A call of task `name` with `args` and the request body, under `id` (a fresh random one
/// when empty). An async job's body must already be in the spool.
[[nodiscard]] task_request make_request(std::string id, std::string_view name, std::string_view args,
                                        std::span<const char> body, bool async, bool stream);

/// Writes the response to a synchronous job that ended with `result` and returns the output
/// body to stream (the spool file, opened; the job's files then removed unless `keep`).
[[nodiscard]] file_body write_job_response(http::response_writer& w, const std::string& spool, const std::string& id,
                                           const job_result_view& result, bool keep);

} // namespace ringfork::worker
