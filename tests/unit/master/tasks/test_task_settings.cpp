// Task settings: the --task flag, per-task limits over the pool-wide defaults, the default
// spool, and how long a worker waits for a synchronous job.
#include <boost/test/unit_test.hpp>

#include "master/tasks/task_settings.hpp"

using namespace ringfork::master;

BOOST_AUTO_TEST_SUITE(task_settings)

BOOST_AUTO_TEST_CASE(commands_split_on_blanks_with_quotes)
{
    std::string error;
    auto s = parse_task_flag("echo=cat", error);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->name == "echo");
    BOOST_TEST(s->argv == std::vector<std::string>{"cat"});
    BOOST_TEST(s->function.empty());

    s = parse_task_flag("grep-1=grep  -i 'a b'c \"x y\" ''", error);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->argv == (std::vector<std::string>{"grep", "-i", "a bc", "x y", ""}));

    s = parse_task_flag("is_prime=builtin:prime", error);
    BOOST_REQUIRE(s);
    BOOST_TEST(s->function == "prime");
    BOOST_TEST(s->argv.empty());
}

BOOST_AUTO_TEST_CASE(bad_flags_are_reported)
{
    std::string error;
    for (const char* bad : {"cat", "=cat", "a b=cat", "a/b=cat", "x=", "x=   ", "x='open", "x=\"open",
                            "x=builtin:nope", "x=builtin:prime extra"}) {
        error.clear();
        BOOST_TEST(!parse_task_flag(bad, error).has_value(), bad);
        BOOST_TEST(!error.empty(), bad);
    }
    BOOST_TEST(!parse_task_flag("x=builtin:nope", error).has_value());
    BOOST_TEST(error.find("builtin:fib") != std::string::npos, error); // names the known ones
    BOOST_TEST(parse_task_flag(std::string(64, 'n') + "=true", error).has_value());
    BOOST_TEST(!parse_task_flag(std::string(65, 'n') + "=true", error).has_value());
}

BOOST_AUTO_TEST_CASE(per_task_limits_fall_back_to_the_defaults)
{
    task_pool_settings s;
    s.tasks = {{"slow", {"sleep", "9"}, ""}, {"fast", {"true"}, ""}};
    BOOST_TEST(split_task_value("120").first.empty());
    BOOST_TEST(split_task_value("120").second == "120");
    BOOST_TEST(split_task_value("slow=120").first == "slow");
    BOOST_TEST(split_task_value("slow=120").second == "120");

    set_task_limit(s, "timeout", "", 5000);
    set_task_limit(s, "grace", "", 2000);
    set_task_limit(s, "timeout", "slow", 120000);
    set_task_limit(s, "concurrency", "slow", 1);
    set_task_limit(s, "grace", "slow", 500);
    const task_limits slow = limits_for(s, "slow");
    BOOST_TEST(slow.timeout_ms == 120000u);
    BOOST_TEST(slow.grace_ms == 500u);
    BOOST_TEST(slow.concurrency == 1u);
    const task_limits fast = limits_for(s, "fast");
    BOOST_TEST(fast.timeout_ms == 5000u);
    BOOST_TEST(fast.grace_ms == 2000u);
    BOOST_TEST(fast.concurrency == 0u);
    // Setting the default later does not undo a task's own value.
    set_task_limit(s, "timeout", "", 7000);
    BOOST_TEST(limits_for(s, "slow").timeout_ms == 120000u);
    BOOST_TEST(limits_for(s, "fast").timeout_ms == 7000u);

    std::string error;
    BOOST_TEST(check_task_settings(s, error));
    set_task_limit(s, "timeout", "nosuch", 1000);
    BOOST_TEST(!check_task_settings(s, error));
    BOOST_TEST(error.find("nosuch") != std::string::npos, error);
}

BOOST_AUTO_TEST_CASE(default_spool_is_private_to_its_user)
{
    BOOST_TEST(default_spool_dir(1000, 1000, "/run/user/1000") == "/run/user/1000/ringfork-tasks");
    BOOST_TEST(default_spool_dir(0, 0, nullptr) == "/run/ringfork-tasks");
    BOOST_TEST(default_spool_dir(0, 0, "") == "/run/ringfork-tasks");
    // Root's children as another user get a spool of their own (that user owns it).
    BOOST_TEST(default_spool_dir(0, 65534, nullptr) == "/run/ringfork-tasks-65534");
    BOOST_TEST(default_spool_dir(1000, 1000, nullptr) == "/tmp/ringfork-tasks-1000");
    BOOST_TEST(default_spool_dir(1000, 1000, "relative") == "/tmp/ringfork-tasks-1000");
}

BOOST_AUTO_TEST_CASE(a_worker_outwaits_every_bound_of_the_master)
{
    task_pool_settings s;
    s.tasks = {{"slow", {"sleep", "9"}, ""}};
    s.queue_timeout_ms = 30000;
    s.defaults.timeout_ms = 30000;
    s.defaults.grace_ms = 1000;
    const unsigned base = worker_task_wait_ms(s);
    BOOST_TEST(base > 61000u);
    set_task_limit(s, "timeout", "slow", 600000);
    BOOST_TEST(worker_task_wait_ms(s) > 631000u);
}

BOOST_AUTO_TEST_SUITE_END()
