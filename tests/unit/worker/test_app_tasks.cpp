// The library's task calls as a handler sees them, on a real ring with this test playing
// the master: every outcome (ok with the output whole even when records were skipped,
// failed, timed out, crashed with its signal, queue full, cancelled, an unknown task, no
// pool), per-call options on the wire, progress, chunks paused and resumed, a client that
// leaves, and background jobs read back from the spool.
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "ipc/task_channel.hpp"
#include "tests/unit/worker/fake_master.hpp"
#include "worker/app_tasks.hpp"
#include "worker/router.hpp"

using namespace ringfork;
using namespace ringfork::worker;

namespace {

struct fixture : test::fake_master {
    std::string spool_dir;
    std::optional<ipc::spool> spool;
    std::shared_ptr<detail::post_queue> posts;
    std::unique_ptr<app_tasks> tasks;

    fixture()
    {
        std::string error;
        char tmpl[] = "/tmp/rf-unit-spool-XXXXXX";
        spool_dir = std::string(::mkdtemp(tmpl)) + "/spool";
        spool = ipc::spool::open(spool_dir, {::geteuid(), ::getegid()}, error);
        BOOST_REQUIRE_MESSAGE(spool, error);
        settings.task_spool = spool_dir;
        posts = detail::post_queue::create(error);
        BOOST_REQUIRE_MESSAGE(posts, error);
        tasks = std::make_unique<app_tasks>(&calls, env, posts);
        app_tasks::make_current(tasks.get());
    }
    ~fixture()
    {
        app_tasks::make_current(nullptr);
        std::filesystem::remove_all(std::filesystem::path(spool_dir).parent_path());
    }

    /// One turn: ring completions, then whatever was posted to the loop.
    void turn(int ms = 20)
    {
        complete(ms);
        for (auto& fn : posts->take())
            fn();
    }

    template <typename P> void turn_until(P done)
    {
        for (int i = 0; i < 100 && !done(); ++i)
            turn();
        BOOST_REQUIRE(done());
    }

    /// The master's side: the next task message and the socket attached to it.
    ipc::worker_task_message take(net::unique_fd& fd)
    {
        for (int i = 0; i < 100; ++i) {
            pollfd p{master.get(), POLLIN, 0};
            if (::poll(&p, 1, 0) == 1)
                break;
            turn(10); // the body goes out on the ring
        }
        return receive(fd);
    }

    /// Sends the final result record.
    static void result(int fd, ipc::job_outcome o, std::string_view reason = {}, std::uint64_t output = 0, int sig = 0)
    {
        ipc::result_record r;
        r.outcome = o;
        r.timed_out = o == ipc::job_outcome::timed_out;
        r.exit_code = o == ipc::job_outcome::ok ? 0 : -1;
        r.signal = sig;
        r.elapsed_ms = 42;
        r.output_bytes = output;
        ipc::set_text(r.reason, reason);
        BOOST_REQUIRE(ipc::send_record_of(fd, ipc::record_type::result, r) == 0);
    }

    /// Writes the job's <id>.out as a runner would.
    void write_output(std::string_view id, std::string_view bytes)
    {
        int err = 0;
        const net::unique_fd fd = spool->create(id, ipc::spool::file::out, err);
        BOOST_REQUIRE(fd);
        BOOST_REQUIRE(::write(fd.get(), bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    }
};

/// Calls `name` and keeps what the handler would see.
struct call_probe {
    std::optional<task_result> result;
    std::vector<std::string> progress;
    ringfork::task_call call;

    void start(std::string_view name, std::string input, call_options o = {})
    {
        o.on_progress = [this](std::string_view line) { progress.emplace_back(line); };
        call = call_task(name, std::move(input), std::move(o), [this](task_result r) { result = std::move(r); });
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(app_tasks_suite)

BOOST_AUTO_TEST_CASE(ok_delivers_the_whole_output_even_past_skipped_records)
{
    fixture f;
    call_probe p;
    call_options o;
    o.timeout = std::chrono::milliseconds(1500);
    o.grace = std::chrono::milliseconds(250);
    p.start("echo", "input bytes", std::move(o));
    BOOST_TEST(p.call.active());
    net::unique_fd job;
    const auto m = f.take(job);
    BOOST_TEST(ipc::text_of(m.job.name) == "echo");
    BOOST_TEST(m.job.timeout_ms == 1500u);
    BOOST_TEST(m.job.grace_ms == 250u);
    BOOST_TEST((m.job.flags & ipc::job_stream) != 0);
    BOOST_TEST((m.job.flags & ipc::job_progress) != 0);
    BOOST_TEST(p.call.job_id() == ipc::text_of(m.job.id));
    const std::string id(p.call.job_id());
    // "hello " came as a record, "big " was skipped (the socket was full: it is only in
    // the file), "world" came, and "!" is in the file after the last record.
    f.write_output(id, "hello big world!");
    BOOST_TEST(ipc::send_record(job.get(), ipc::record_type::queued, {}) == 0);
    BOOST_TEST(ipc::send_record_of(job.get(), ipc::record_type::started, ipc::started_record{1, 1}) == 0);
    BOOST_TEST(ipc::send_output_record(job.get(), 0, std::string_view("hello ")) == 0);
    BOOST_TEST(ipc::send_record(job.get(), ipc::record_type::progress, std::string_view("half way")) == 0);
    BOOST_TEST(ipc::send_output_record(job.get(), 10, std::string_view("world")) == 0);
    fixture::result(job.get(), ipc::job_outcome::ok, {}, 16);
    f.turn_until([&] { return p.result.has_value(); });
    BOOST_TEST(p.result->ok());
    BOOST_TEST(p.result->output == "hello big world!");
    BOOST_TEST(p.result->elapsed.count() == 42);
    BOOST_TEST(p.result->job_id == id);
    BOOST_TEST(p.progress == std::vector<std::string>{"half way"});
    BOOST_TEST(!p.call.active());
    int err = 0;
    BOOST_TEST(!f.spool->open_read(id, ipc::spool::file::out, err)); // the call's files are gone
}

BOOST_AUTO_TEST_CASE(every_failure_reaches_the_handler_with_its_reason)
{
    fixture f;
    struct expect {
        ipc::job_outcome sent;
        int signal;
        std::string reason;
        task_result::outcome seen;
    };
    const std::vector<expect> cases = {
        {ipc::job_outcome::failed, 0, "the function threw: bad input", task_result::outcome::failed},
        {ipc::job_outcome::timed_out, 0, "timed out after 1000 ms", task_result::outcome::timed_out},
        {ipc::job_outcome::crashed, 6, "the runner died (signal 6)", task_result::outcome::crashed},
        {ipc::job_outcome::cancelled, 0, "cancelled", task_result::outcome::cancelled},
    };
    for (const expect& e : cases) {
        call_probe p;
        p.start("t", "x");
        net::unique_fd job;
        f.take(job);
        fixture::result(job.get(), e.sent, e.reason, 0, e.signal);
        f.turn_until([&] { return p.result.has_value(); });
        BOOST_TEST(outcome_name(p.result->what) == outcome_name(e.seen));
        BOOST_TEST(p.result->message == e.reason);
        BOOST_TEST(p.result->signal == e.signal);
        BOOST_TEST(!p.result->ok());
    }
}

BOOST_AUTO_TEST_CASE(refusals_queue_full_unknown_task_and_no_pool)
{
    fixture f;
    call_probe full;
    full.start("t", "x");
    net::unique_fd job;
    f.take(job);
    BOOST_TEST(ipc::send_record_of(job.get(), ipc::record_type::rejected,
                                   ipc::rejected_record{ipc::reject_reason::queue_full}) == 0);
    f.turn_until([&] { return full.result.has_value(); });
    BOOST_TEST(outcome_name(full.result->what) == "queue_full");
    BOOST_TEST(full.result->message == "the task queue is full");

    call_probe unknown;
    unknown.start("t", "x");
    f.take(job);
    BOOST_TEST(ipc::send_record_of(job.get(), ipc::record_type::rejected,
                                   ipc::rejected_record{ipc::reject_reason::unknown_task}) == 0);
    f.turn_until([&] { return unknown.result.has_value(); });
    BOOST_TEST(outcome_name(unknown.result->what) == "failed");
    BOOST_TEST(unknown.result->message == "no such task");

    // Refused here: the outcome still comes from the loop, never inside call_task.
    call_probe bad_name;
    bad_name.start("no/such", "x");
    BOOST_TEST(!bad_name.result.has_value());
    f.turn();
    BOOST_REQUIRE(bad_name.result.has_value());
    BOOST_TEST(outcome_name(bad_name.result->what) == "failed");
    BOOST_TEST(bad_name.result->job_id.empty());

    app_tasks no_pool(nullptr, f.env, f.posts);
    std::optional<task_result> got;
    no_pool.call("t", "x", {}, [&](task_result r) { got = std::move(r); });
    BOOST_TEST(!got.has_value());
    f.turn();
    BOOST_REQUIRE(got.has_value());
    BOOST_TEST(got->message == "this server runs no task pool");
}

BOOST_AUTO_TEST_CASE(cancel_asks_the_master_and_reports_what_it_did)
{
    fixture f;
    call_probe p;
    p.start("slow", "x");
    net::unique_fd job;
    const auto submitted = f.take(job);
    p.call.cancel();
    p.call.cancel(); // once is enough
    net::unique_fd reply;
    const auto m = f.take(reply);
    BOOST_TEST(int(m.type) == int(ipc::worker_task_msg::job_cancel));
    BOOST_TEST(ipc::text_of(m.job.id) == ipc::text_of(submitted.job.id));
    BOOST_TEST(ipc::send_record_of(reply.get(), ipc::record_type::cancel,
                                   ipc::cancel_record{ipc::cancel_result::cancelling}) == 0);
    fixture::result(job.get(), ipc::job_outcome::cancelled, "cancelled");
    f.turn_until([&] { return p.result.has_value(); });
    BOOST_TEST(outcome_name(p.result->what) == "cancelled");
    pollfd extra{f.master.get(), POLLIN, 0};
    BOOST_TEST(::poll(&extra, 1, 50) == 0); // no second cancel
}

BOOST_AUTO_TEST_CASE(a_client_that_leaves_cancels_the_calls_made_for_it)
{
    fixture f;
    auto client = std::make_shared<detail::client_state>();
    call_probe kept, cancelled;
    call_options stay;
    stay.client = client_ref(client);
    stay.cancel_on_disconnect = false;
    kept.start("t", "x", std::move(stay));
    net::unique_fd job1, job2;
    f.take(job1);
    call_options go;
    go.client = client_ref(client);
    cancelled.start("t", "x", std::move(go));
    const auto m = f.take(job2);
    BOOST_TEST(client->hold_until_ms >= f.settings.task_timeout_ms);
    client->left();
    net::unique_fd reply;
    const auto c = f.take(reply);
    BOOST_TEST(int(c.type) == int(ipc::worker_task_msg::job_cancel));
    BOOST_TEST(ipc::text_of(c.job.id) == ipc::text_of(m.job.id));
    pollfd extra{f.master.get(), POLLIN, 0};
    BOOST_TEST(::poll(&extra, 1, 50) == 0); // the other call goes on
    BOOST_TEST(!client_ref(client).connected());

    // A call for a client that has gone already is not made at all.
    call_probe late;
    call_options o;
    o.client = client_ref(client);
    late.start("t", "x", std::move(o));
    f.turn();
    BOOST_REQUIRE(late.result.has_value());
    BOOST_TEST(outcome_name(late.result->what) == "cancelled");
}

BOOST_AUTO_TEST_CASE(chunks_pause_and_resume_without_losing_bytes)
{
    fixture f;
    std::string got;
    bool pause = true;
    std::optional<task_result> result;
    call_options o;
    o.on_chunk = [&](std::string_view chunk) {
        got.append(chunk);
        return !pause;
    };
    task_call call = call_task("t", "x", std::move(o), [&](task_result r) { result = std::move(r); });
    net::unique_fd job;
    f.take(job);
    const std::string id(call.job_id());
    f.write_output(id, "aaabbbccc");
    BOOST_TEST(ipc::send_output_record(job.get(), 0, std::string_view("aaa")) == 0);
    BOOST_TEST(ipc::send_output_record(job.get(), 3, std::string_view("bbb")) == 0);
    BOOST_TEST(ipc::send_output_record(job.get(), 6, std::string_view("ccc")) == 0);
    fixture::result(job.get(), ipc::job_outcome::ok, {}, 9);
    for (int i = 0; i < 10; ++i)
        f.turn(10);
    BOOST_TEST(got == "aaa"); // paused after the first chunk: nothing else, no outcome yet
    BOOST_TEST(!result.has_value());
    pause = false;
    call.resume();
    f.turn_until([&] { return result.has_value(); });
    BOOST_TEST(got == "aaabbbccc");
    BOOST_TEST(result->ok());
    BOOST_TEST(result->output.empty()); // on_chunk took it
}

BOOST_AUTO_TEST_CASE(background_jobs_are_submitted_and_read_back)
{
    fixture f;
    std::optional<job_submitted> sub;
    submit_task("media", "the body", {std::chrono::milliseconds(700), {}},
                [&](job_submitted s) { sub = std::move(s); });
    net::unique_fd job;
    const auto m = f.take(job);
    BOOST_TEST((m.job.flags & ipc::job_async) != 0);
    BOOST_TEST(m.job.timeout_ms == 700u);
    const std::string id(ipc::text_of(m.job.id));
    int err = 0;
    const net::unique_fd in = f.spool->open_read(id, ipc::spool::file::in, err);
    BOOST_REQUIRE(in);
    char buf[32] = {};
    BOOST_TEST(::read(in.get(), buf, sizeof buf) == 8);
    BOOST_TEST(std::string(buf) == "the body");
    BOOST_TEST(ipc::send_record(job.get(), ipc::record_type::queued, {}) == 0);
    f.turn_until([&] { return sub.has_value(); });
    BOOST_TEST(sub->queued());
    BOOST_TEST(sub->job_id == id);

    BOOST_TEST(!job_state(id).has_value()); // the master has written no state yet
    ipc::job_state_record st;
    st.state = ipc::job_state::timed_out;
    ipc::set_text(st.task, "media");
    ipc::set_text(st.reason, "timed out after 700 ms");
    BOOST_REQUIRE(f.spool->write_state(id, st) == 0);
    const auto info = job_state(id);
    BOOST_REQUIRE(info.has_value());
    BOOST_TEST(state_name(info->what) == "timed_out");
    BOOST_TEST(info->ended());
    BOOST_TEST(info->task == "media");
    BOOST_TEST(info->message == "timed out after 700 ms");
    f.write_output(id, "0123456789");
    BOOST_TEST(job_output(id, 4).value_or("") == "0123");
    BOOST_TEST(!job_state("../../etc/passwd").has_value());
    BOOST_TEST(!job_state("0123456789abcdef0123456789abcdef").has_value());
    BOOST_TEST(!job_output("0123456789abcdef0123456789abcdef").has_value());

    // Refused by the master: the callback says so and no id is given.
    std::optional<job_submitted> full;
    submit_task("media", "x", {}, [&](job_submitted s) { full = std::move(s); });
    f.take(job);
    BOOST_TEST(ipc::send_record_of(job.get(), ipc::record_type::rejected,
                                   ipc::rejected_record{ipc::reject_reason::queue_full}) == 0);
    f.turn_until([&] { return full.has_value(); });
    BOOST_TEST(!full->queued());
    BOOST_TEST(outcome_name(full->refused) == "queue_full");
}

BOOST_AUTO_TEST_CASE(off_the_loop_thread_it_is_refused)
{
    app_tasks::make_current(nullptr);
    BOOST_CHECK_THROW(call_task("t", "x", {}, [](task_result) {}), std::logic_error);
    BOOST_CHECK_THROW((void)job_state("0123456789abcdef0123456789abcdef"), std::logic_error);
}

BOOST_AUTO_TEST_SUITE_END()
