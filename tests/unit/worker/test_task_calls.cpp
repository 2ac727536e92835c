// Task calls on a real ring, with this test playing the master: job_submit with the job
// socket, the body as records, the events (queued, started, output with pause and resume,
// progress, done), drop closing the socket, and cancel_job's reply.
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "ipc/task_channel.hpp"
#include "tests/unit/worker/fake_master.hpp"
#include "worker/router.hpp"
#include "worker/task_calls.hpp"

using namespace ringfork;
using namespace ringfork::worker;

namespace {

struct fixture : test::fake_master {
    /// One turn: submit, wait up to `ms` for completions, hand them to the service.
    void turn(int ms = 200) { complete(ms); }

    /// The master's side: the next task message and the socket attached to it.
    ipc::worker_task_message take(net::unique_fd& fd)
    {
        pollfd p{master.get(), POLLIN, 0};
        BOOST_REQUIRE(::poll(&p, 1, 2000) == 1);
        return receive(fd);
    }
};

std::string read_body(int fd, fixture& f)
{
    std::string body;
    for (int i = 0; i < 200; ++i) {
        f.turn(5);
        char buf[ipc::record_bytes_max + 64];
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n <= 0)
            continue;
        const auto r = ipc::parse_record({buf, static_cast<std::size_t>(n)});
        BOOST_REQUIRE(r);
        if (r->type == ipc::record_type::body_end)
            return body;
        BOOST_REQUIRE(int(r->type) == int(ipc::record_type::body));
        body.append(r->payload.data(), r->payload.size());
    }
    BOOST_FAIL("no body_end");
    return body;
}

} // namespace

BOOST_AUTO_TEST_SUITE(task_calls_suite)

BOOST_AUTO_TEST_CASE(a_call_delivers_its_events_in_order)
{
    fixture f;
    std::vector<std::string> seen;
    task_outcome outcome;
    task_events ev;
    ev.queued = [&] { seen.emplace_back("queued"); };
    ev.started = [&] { seen.emplace_back("started"); };
    ev.output = [&](std::uint64_t offset, std::span<const char> b) {
        seen.push_back(std::to_string(offset) + ":" + std::string(b.data(), b.size()));
        return true;
    };
    ev.progress = [&](std::string_view line) { seen.emplace_back("progress " + std::string(line)); };
    ev.done = [&](const task_outcome& o) {
        seen.emplace_back("done");
        outcome = o;
    };
    task_request req;
    req.task = "echo";
    req.args = "a=1";
    req.body = std::string(100000, 'b'); // several records
    req.stream = true;
    req.progress = true;
    std::string id;
    const task_call_id call = f.calls.call(req, ev, &id);
    BOOST_REQUIRE(call != 0);
    BOOST_TEST(ipc::valid_job_id(id));
    net::unique_fd job;
    const auto m = f.take(job);
    BOOST_TEST(int(m.type) == int(ipc::worker_task_msg::job_submit));
    BOOST_TEST(ipc::text_of(m.job.id) == id);
    BOOST_TEST(ipc::text_of(m.job.name) == "echo");
    BOOST_TEST(ipc::text_of(m.job.args) == "a=1");
    BOOST_TEST((m.job.flags & ipc::job_stream) != 0);
    BOOST_TEST((m.job.flags & ipc::job_cancel_on_close) != 0);
    BOOST_TEST(m.job.body_length == 100000u);
    BOOST_TEST(read_body(job.get(), f) == req.body);

    BOOST_TEST(ipc::send_record(job.get(), ipc::record_type::queued, {}) == 0);
    BOOST_TEST(ipc::send_record_of(job.get(), ipc::record_type::started, ipc::started_record{1, 2}) == 0);
    BOOST_TEST(ipc::send_output_record(job.get(), 0, std::string_view("abc")) == 0);
    BOOST_TEST(ipc::send_record(job.get(), ipc::record_type::progress, std::string_view("50%")) == 0);
    BOOST_TEST(ipc::send_output_record(job.get(), 3, std::string_view("def")) == 0);
    ipc::result_record r;
    r.outcome = ipc::job_outcome::ok;
    r.exit_code = 0;
    r.output_bytes = 6;
    BOOST_TEST(ipc::send_record_of(job.get(), ipc::record_type::result, r) == 0);
    for (int i = 0; i < 20 && (seen.empty() || seen.back() != "done"); ++i)
        f.turn();
    BOOST_TEST(seen == (std::vector<std::string>{"queued", "started", "0:abc", "progress 50%", "3:def", "done"}));
    BOOST_TEST(int(outcome.outcome) == int(ipc::job_outcome::ok));
    BOOST_TEST(outcome.output_bytes == 6u);
    BOOST_TEST(!outcome.lost);
    BOOST_TEST(f.stats.tasks_submitted == 1u);
    for (int i = 0; i < 5 && f.calls.active() > 0; ++i)
        f.turn(5);
    BOOST_TEST(f.calls.active() == 0u);
}

BOOST_AUTO_TEST_CASE(output_pauses_until_resumed)
{
    fixture f;
    std::vector<std::uint64_t> offsets;
    bool pause = true;
    task_events ev;
    ev.output = [&](std::uint64_t offset, std::span<const char>) {
        offsets.push_back(offset);
        return !pause;
    };
    task_request req;
    req.task = "t";
    req.stream = true;
    const task_call_id call = f.calls.call(req, ev);
    net::unique_fd job;
    f.take(job);
    for (std::uint64_t i = 0; i < 3; ++i)
        BOOST_TEST(ipc::send_output_record(job.get(), i, std::string_view("x")) == 0);
    for (int i = 0; i < 10; ++i)
        f.turn(10);
    BOOST_TEST(offsets == std::vector<std::uint64_t>{0}); // paused after the first
    pause = false;
    f.calls.resume(call);
    for (int i = 0; i < 10; ++i)
        f.turn(10);
    BOOST_TEST(offsets == (std::vector<std::uint64_t>{0, 1, 2}));
}

BOOST_AUTO_TEST_CASE(a_rejection_and_a_lost_master_end_the_call)
{
    fixture f;
    task_outcome got;
    int done = 0;
    task_events ev;
    ev.done = [&](const task_outcome& o) {
        got = o;
        ++done;
    };
    task_request req;
    req.task = "t";
    BOOST_REQUIRE(f.calls.call(req, ev) != 0u);
    net::unique_fd job;
    f.take(job);
    BOOST_TEST(ipc::send_record_of(job.get(), ipc::record_type::rejected,
                                   ipc::rejected_record{ipc::reject_reason::queue_full}) == 0);
    for (int i = 0; i < 10 && done == 0; ++i)
        f.turn();
    BOOST_TEST(done == 1);
    BOOST_TEST(int(got.outcome) == int(ipc::job_outcome::rejected));
    BOOST_TEST(int(got.rejected) == int(ipc::reject_reason::queue_full));

    BOOST_REQUIRE(f.calls.call(req, ev) != 0u);
    f.take(job);
    job.reset(); // the master went away without a result
    for (int i = 0; i < 10 && done == 1; ++i)
        f.turn();
    BOOST_TEST(done == 2);
    BOOST_TEST(got.lost);
}

BOOST_AUTO_TEST_CASE(an_async_call_ends_at_queued)
{
    fixture f;
    int queued = 0, done = 0;
    task_events ev;
    ev.queued = [&] { ++queued; };
    ev.done = [&](const task_outcome&) { ++done; };
    task_request req;
    req.task = "t";
    req.async = true;
    req.spooled_body = 1234;
    BOOST_REQUIRE(f.calls.call(req, ev) != 0u);
    net::unique_fd job;
    const auto m = f.take(job);
    BOOST_TEST((m.job.flags & ipc::job_async) != 0);
    BOOST_TEST(m.job.body_length == 1234u);
    BOOST_TEST(ipc::send_record(job.get(), ipc::record_type::queued, {}) == 0);
    for (int i = 0; i < 10 && queued == 0; ++i)
        f.turn();
    f.turn(5);
    BOOST_TEST((queued == 1 && done == 0));
    BOOST_TEST(f.calls.active() == 0u);
    // Its socket is closed: the master sees the submitter gone.
    char c;
    BOOST_TEST(::recv(job.get(), &c, 1, MSG_DONTWAIT) == 0);
}

BOOST_AUTO_TEST_CASE(drop_closes_the_job_socket_and_silences_the_call)
{
    fixture f;
    int events = 0;
    task_events ev;
    ev.started = [&] { ++events; };
    ev.done = [&](const task_outcome&) { ++events; };
    task_request req;
    req.task = "t";
    const task_call_id call = f.calls.call(req, ev);
    net::unique_fd job;
    f.take(job);
    read_body(job.get(), f);
    f.calls.drop(call);
    for (int i = 0; i < 10 && f.calls.active() > 0; ++i)
        f.turn(10);
    BOOST_TEST(f.calls.active() == 0u);
    pollfd p{job.get(), POLLRDHUP, 0};
    BOOST_TEST(::poll(&p, 1, 1000) == 1); // what the master watches for to cancel the job
    BOOST_TEST(ipc::send_record(job.get(), ipc::record_type::started, {}) != 0);
    f.turn(10);
    BOOST_TEST(events == 0);
    f.calls.drop(call); // twice: harmless
    f.calls.resume(call);
}

BOOST_AUTO_TEST_CASE(cancel_job_gets_the_masters_answer)
{
    fixture f;
    std::vector<ipc::cancel_result> answers;
    BOOST_TEST(f.calls.cancel_job("0123456789abcdef0123456789abcdef",
                                  [&](ipc::cancel_result r) { answers.push_back(r); }));
    net::unique_fd reply;
    const auto m = f.take(reply);
    BOOST_TEST(int(m.type) == int(ipc::worker_task_msg::job_cancel));
    BOOST_TEST(ipc::text_of(m.job.id) == "0123456789abcdef0123456789abcdef");
    BOOST_TEST(ipc::send_record_of(reply.get(), ipc::record_type::cancel,
                                   ipc::cancel_record{ipc::cancel_result::cancelling}) == 0);
    for (int i = 0; i < 10 && answers.empty(); ++i)
        f.turn();
    BOOST_TEST(answers == std::vector<ipc::cancel_result>{ipc::cancel_result::cancelling});

    f.settings.task_pool = false;
    BOOST_TEST(!f.calls.cancel_job("0123456789abcdef0123456789abcdef", [&](ipc::cancel_result) {}));
    task_request req;
    req.task = "t";
    BOOST_TEST(f.calls.call(req, {}) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
