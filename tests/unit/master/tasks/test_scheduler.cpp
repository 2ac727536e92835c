// The broker's decisions: the queue with per-task concurrency and its wait bound,
// recycling with jitter, and how a job's ending is judged.
#include <boost/test/unit_test.hpp>

#include <set>

#include "master/tasks/scheduler.hpp"

using namespace ringfork;
using namespace ringfork::master;

BOOST_AUTO_TEST_SUITE(scheduler)

BOOST_AUTO_TEST_CASE(the_queue_is_bounded_and_first_in_first_out)
{
    job_queue q(3);
    BOOST_TEST(q.push(1, 0, true, 100));
    BOOST_TEST(q.push(2, 0, false, 110));
    BOOST_TEST(q.push(3, 1, true, 120));
    BOOST_TEST(q.full());
    BOOST_TEST(!q.push(4, 0, true, 130));
    BOOST_TEST(q.keys() == (std::vector<job_key>{1, 2, 3}));
    const auto any = [](int) { return true; };
    BOOST_TEST(q.take(any).value() == 1u);
    BOOST_TEST(q.take(any).value() == 2u);
    BOOST_TEST(q.remove(3));
    BOOST_TEST(!q.remove(3));
    BOOST_TEST(!q.take(any).has_value());
    BOOST_TEST(q.empty());
}

BOOST_AUTO_TEST_CASE(a_task_at_its_limit_does_not_hold_up_the_others)
{
    task_counts counts({1, 0}); // task 0: one at a time; task 1: no limit of its own
    job_queue q(10);
    q.push(1, 0, true, 0);
    q.push(2, 0, true, 0);
    q.push(3, 1, true, 0);
    q.push(4, 1, true, 0);
    const auto can = [&](int t) { return counts.can_start(t); };
    auto k = q.take(can);
    BOOST_TEST(k.value() == 1u);
    counts.started(0);
    BOOST_TEST(counts.running(0) == 1u);
    k = q.take(can); // job 2 is task 0, at its limit: job 3 goes first
    BOOST_TEST(k.value() == 3u);
    counts.started(1);
    k = q.take(can);
    BOOST_TEST(k.value() == 4u);
    counts.started(1);
    BOOST_TEST(!q.take(can).has_value());
    counts.ended(0);
    BOOST_TEST(q.take(can).value() == 2u);
    counts.ended(5); // out of range: ignored
    BOOST_TEST(counts.can_start(7));
}

BOOST_AUTO_TEST_CASE(waiting_synchronous_jobs_expire_async_ones_wait)
{
    job_queue q(10);
    q.push(1, 0, false, 0);   // async: never expires in the queue
    q.push(2, 0, true, 100);
    q.push(3, 0, true, 500);
    BOOST_TEST(q.next_expiry(1000) == 1100u);
    BOOST_TEST(q.take_expired(1099, 1000).empty());
    BOOST_TEST(q.take_expired(1100, 1000) == std::vector<job_key>{2});
    BOOST_TEST(q.next_expiry(1000) == 1500u);
    BOOST_TEST(q.take_expired(100000, 1000) == std::vector<job_key>{3});
    BOOST_TEST(q.next_expiry(1000) == 0u);
    BOOST_TEST(q.keys() == std::vector<job_key>{1});
    // A job put back keeps its place at the front and its original time.
    q.put_back(9, 0, true, 50);
    BOOST_TEST(q.keys() == (std::vector<job_key>{9, 1}));
    BOOST_TEST(q.next_expiry(1000) == 1050u);
}

BOOST_AUTO_TEST_CASE(recycling_budgets_spread_and_limits_apply)
{
    BOOST_TEST(job_budget(0, 12345) == 0u);
    BOOST_TEST(job_budget(5, 12345) == 5u); // under 10 jobs: a tenth is nothing
    std::set<unsigned> seen;
    for (std::uint32_t r = 0; r < 100; ++r) {
        const unsigned b = job_budget(100, r * 2654435761u);
        BOOST_TEST(b >= 100u);
        BOOST_TEST(b <= 110u);
        seen.insert(b);
    }
    BOOST_TEST(seen.size() > 5u); // jittered, so runners started together do not all restart together

    BOOST_TEST(!must_retire(4, 5, 0, 0));
    BOOST_TEST(must_retire(5, 5, 0, 0));
    BOOST_TEST(!must_retire(1000, 0, 0, 0));
    BOOST_TEST(!must_retire(1, 0, 100 * 1024, 200 * 1024));
    BOOST_TEST(must_retire(1, 0, 201 * 1024, 200 * 1024));
}

BOOST_AUTO_TEST_CASE(endings_are_judged_in_order)
{
    job_end e;
    e.reported = true;
    e.exit_code = 0;
    auto v = judge(e);
    BOOST_TEST(int(v.outcome) == int(ipc::job_outcome::ok));
    BOOST_TEST(v.reason.empty());

    e.exit_code = 3;
    v = judge(e);
    BOOST_TEST(int(v.outcome) == int(ipc::job_outcome::failed));
    BOOST_TEST(v.reason == "exit code 3");

    e.exit_code = -1;
    e.signal = 9;
    v = judge(e);
    BOOST_TEST(int(v.outcome) == int(ipc::job_outcome::crashed));

    e.failure = ipc::job_failure::output_cap;
    e.text = "output over 100 bytes";
    v = judge(e);
    BOOST_TEST(int(v.outcome) == int(ipc::job_outcome::failed));
    BOOST_TEST(v.reason == "output over 100 bytes");

    // The master's own kill decides over what the runner saw (a SIGTERM'd command).
    e.killed = kill_reason::timeout;
    e.timeout_ms = 2000;
    v = judge(e);
    BOOST_TEST(int(v.outcome) == int(ipc::job_outcome::timed_out));
    BOOST_TEST(v.timed_out);
    BOOST_TEST(v.reason == "timed out after 2000 ms");
    e.killed = kill_reason::cancel;
    BOOST_TEST(int(judge(e).outcome) == int(ipc::job_outcome::cancelled));

    // A runner that died on its own: crashed; one killed for the job's timeout: timed out.
    job_end died;
    BOOST_TEST(int(judge(died).outcome) == int(ipc::job_outcome::crashed));
    BOOST_TEST(judge(died).reason == "the runner died");
    died.killed = kill_reason::timeout;
    BOOST_TEST(int(judge(died).outcome) == int(ipc::job_outcome::timed_out));

    job_end rejected;
    rejected.rejected = ipc::reject_reason::queue_timeout;
    v = judge(rejected);
    BOOST_TEST(int(v.outcome) == int(ipc::job_outcome::rejected));
    BOOST_TEST(v.reason == ipc::reject_text(ipc::reject_reason::queue_timeout));
    BOOST_TEST(outcome_name(ipc::job_outcome::timed_out) == "timed_out");
}

BOOST_AUTO_TEST_SUITE_END()
