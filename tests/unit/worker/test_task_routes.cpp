// The task routes' handlers, against a real spool and without a loop: what they answer at
// once (bad names, long queries, a job's state, its output, planted files) and which body
// source they leave for the rest (a task call, a follow, a cancel).
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "ipc/spool.hpp"
#include "net/http_parser.hpp"
#include "tests/unit/worker/env_fixture.hpp"
#include "worker/job_cancel.hpp"
#include "worker/job_follow.hpp"
#include "worker/task_client.hpp"
#include "worker/task_routes.hpp"

using namespace ringfork;
using namespace ringfork::worker;

namespace {

constexpr std::string_view job = "0123456789abcdef0123456789abcdef";

struct spool_dir {
    std::string path;
    std::optional<ipc::spool> spool;
    spool_dir()
    {
        char tmpl[] = "/tmp/rf-routes-test-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = std::string(tmpl) + "/spool";
        std::string error;
        spool = ipc::spool::open(path, {::geteuid(), ::getegid()}, error);
        BOOST_REQUIRE_MESSAGE(spool, error);
    }
    ~spool_dir() { std::filesystem::remove_all(std::filesystem::path(path).parent_path()); }
};

/// One request through a handler: the bytes it wrote and what it deferred.
using result = test::handler_result;

result run(handler& h, http::method m, std::string_view method_text, std::string_view target, std::string_view body = "",
           int minor = 1)
{
    http::request req;
    req.verb = m;
    req.method_text = method_text;
    req.target = target;
    const auto q = target.find('?');
    req.path = target.substr(0, q);
    req.query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
    req.version_minor = minor;
    http::date_cache date;
    date.update(0);
    net::byte_buffer out;
    http::response_context ctx;
    ctx.head = m == http::method::head;
    ctx.version_minor = minor;
    http::response_writer w(out, date, ctx);
    const request_view view{req, req.path, {body.data(), body.size()}};
    result r;
    h.handle(view, w, r.later);
    r.wire.assign(out.data(), out.size());
    return r;
}

void write_state(const ipc::spool& s, std::string_view id, ipc::job_state st, std::string_view progress = "")
{
    ipc::job_state_record r;
    r.state = st;
    r.exit_code = 0;
    r.output_bytes = 5;
    ipc::set_text(r.task, "echo");
    ipc::set_text(r.progress, progress);
    BOOST_REQUIRE(s.write_state(id, r) == 0);
}

} // namespace

BOOST_AUTO_TEST_SUITE(task_routes)

BOOST_AUTO_TEST_CASE(submissions_check_the_name_and_the_query)
{
    spool_dir d;
    task_submit_handler submit(d.path);
    BOOST_TEST(run(submit, http::method::post, "POST", "/tasks/bad.name").status() == 404u);
    BOOST_TEST(run(submit, http::method::post, "POST", "/tasks/").status() == 404u);
    BOOST_TEST(run(submit, http::method::post, "POST", "/tasks/x?" + std::string(2000, 'a')).status() == 414u);
    // A good one writes nothing now: a task call answers later.
    result r = run(submit, http::method::post, "POST", "/tasks/echo?stream=1", "body");
    BOOST_TEST(r.wire.empty());
    BOOST_TEST(dynamic_cast<task_client*>(r.later.source.get()) != nullptr);
}

BOOST_AUTO_TEST_CASE(an_async_body_goes_to_the_spool_first)
{
    spool_dir d;
    task_submit_handler submit(d.path);
    result r = run(submit, http::method::post, "POST", "/tasks/echo?async=1", "the body");
    BOOST_TEST(r.wire.empty());
    BOOST_REQUIRE(r.later.source);
    std::string in_file;
    for (const auto& e : std::filesystem::directory_iterator(d.path))
        if (e.path().extension() == ".in")
            in_file = e.path();
    BOOST_REQUIRE(!in_file.empty());
    std::ifstream f(in_file);
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    BOOST_TEST(text == "the body");
}

BOOST_AUTO_TEST_CASE(requests_become_calls)
{
    const std::string body = "xyz";
    task_request r = make_request("", "echo", "a=1", body, false, true);
    BOOST_TEST(r.id.empty()); // task_calls picks one
    BOOST_TEST((r.task == "echo" && r.args == "a=1" && r.body == "xyz"));
    BOOST_TEST((r.stream && !r.async && r.cancel_on_close));
    r = make_request(std::string(job), "echo", "", body, true, false);
    BOOST_TEST(r.id == job);
    BOOST_TEST((r.async && r.body.empty() && r.spooled_body == 3u));
}

BOOST_AUTO_TEST_CASE(a_jobs_state_is_json)
{
    spool_dir d;
    job_status_handler jobs(d.path);
    BOOST_TEST(run(jobs, http::method::get, "GET", "/tasks/jobs/" + std::string(job)).status() == 404u);
    BOOST_TEST(run(jobs, http::method::get, "GET", "/tasks/jobs/nothex").status() == 404u);
    BOOST_TEST(run(jobs, http::method::get, "GET", "/tasks/jobs/" + std::string(job) + "/other").status() == 404u);
    write_state(*d.spool, job, ipc::job_state::running, "40% \"done\"\n");
    result r = run(jobs, http::method::get, "GET", "/tasks/jobs/" + std::string(job));
    BOOST_TEST(r.status() == 202u);
    BOOST_TEST(r.wire.find("Retry-After: 1") != std::string::npos);
    BOOST_TEST(r.body().find(R"("state":"running")") != std::string::npos, r.body());
    BOOST_TEST(r.body().find(R"("progress":"40% \"done\"\u000a")") != std::string::npos, r.body());
    write_state(*d.spool, job, ipc::job_state::done);
    r = run(jobs, http::method::get, "GET", "/tasks/jobs/" + std::string(job));
    BOOST_TEST(r.status() == 200u);
    BOOST_TEST(r.body().find(R"("exit_code":0)") != std::string::npos, r.body());
}

BOOST_AUTO_TEST_CASE(output_is_served_and_a_planted_link_is_not)
{
    spool_dir d;
    job_status_handler jobs(d.path);
    write_state(*d.spool, job, ipc::job_state::done);
    int err = 0;
    {
        const net::unique_fd out = d.spool->create(job, ipc::spool::file::out, err);
        BOOST_REQUIRE(::write(out.get(), "hello", 5) == 5);
    }
    result r = run(jobs, http::method::get, "GET", "/tasks/jobs/" + std::string(job) + "/output");
    BOOST_TEST(r.status() == 200u);
    BOOST_TEST(r.wire.find("Content-Length: 5") != std::string::npos);
    BOOST_TEST(r.wire.find("X-Task-Exit-Code: 0") != std::string::npos);
    BOOST_TEST(r.later.file.length == 5u); // streamed from the file by the connection
    // No stderr yet: an empty body, not an error.
    r = run(jobs, http::method::get, "GET", "/tasks/jobs/" + std::string(job) + "/stderr");
    BOOST_TEST(r.status() == 200u);
    BOOST_TEST(r.wire.find("Content-Length: 0") != std::string::npos);
    // A link put in place of the output is refused, not followed.
    const std::string out_path = d.path + "/" + std::string(job) + ".out";
    ::unlink(out_path.c_str());
    BOOST_REQUIRE(::symlink("/etc/hostname", out_path.c_str()) == 0);
    r = run(jobs, http::method::get, "GET", "/tasks/jobs/" + std::string(job) + "/output");
    BOOST_TEST(r.status() == 404u);
    BOOST_TEST(!r.later.file.file);
}

BOOST_AUTO_TEST_CASE(follow_and_delete_leave_their_sources)
{
    spool_dir d;
    job_status_handler jobs(d.path);
    write_state(*d.spool, job, ipc::job_state::running);
    result r = run(jobs, http::method::get, "GET", "/tasks/jobs/" + std::string(job) + "/output?follow=1");
    BOOST_TEST(r.status() == 200u);
    BOOST_TEST(r.wire.find("Transfer-Encoding: chunked") != std::string::npos);
    BOOST_TEST(r.wire.find("Trailer: X-Task-Exit-Code") != std::string::npos);
    BOOST_TEST(dynamic_cast<job_follow*>(r.later.source.get()) != nullptr);
    // HTTP/1.0 has no chunks: the output so far, whole.
    r = run(jobs, http::method::get, "GET", "/tasks/jobs/" + std::string(job) + "/output?follow=1", "", 0);
    BOOST_TEST(r.status() == 200u);
    BOOST_TEST(!r.later.source);

    r = run(jobs, http::method::delete_, "DELETE", "/tasks/jobs/" + std::string(job));
    BOOST_TEST(r.wire.empty());
    BOOST_TEST(dynamic_cast<job_cancel*>(r.later.source.get()) != nullptr);
    BOOST_TEST(run(jobs, http::method::delete_, "DELETE", "/tasks/jobs/" + std::string(job) + "/output").status() ==
               405u);
}

BOOST_AUTO_TEST_SUITE_END()
