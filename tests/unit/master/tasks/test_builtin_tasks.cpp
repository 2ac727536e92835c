// Function tasks: the registry and the builtins prime and fib, run against a recording
// task_context.
#include <boost/test/unit_test.hpp>

#include <cctype>
#include <stdexcept>

#include "ipc/app_spec.hpp"
#include "master/tasks/builtin_tasks.hpp"
#include "master/tasks/registry.hpp"

using namespace ringfork::master;

namespace {

/// A task_context that keeps what the function did.
class recording_context final : public task_context {
public:
    explicit recording_context(std::string args) : args_(std::move(args)) {}
    std::string_view id() const noexcept override { return "0123456789abcdef0123456789abcdef"; }
    std::string_view args() const noexcept override { return args_; }
    bool emit(std::span<const char> bytes) override
    {
        out.append(bytes.data(), bytes.size());
        return true;
    }
    void progress(std::string_view line) override { lines.emplace_back(line); }
    void error(std::string_view text) override { err += text; }
    bool cancelled() const noexcept override { return false; }
    std::chrono::steady_clock::time_point deadline() const noexcept override
    {
        return std::chrono::steady_clock::now() + std::chrono::hours(1);
    }
    std::string out, err;
    std::vector<std::string> lines;

private:
    std::string args_;
};

struct run_result {
    int code;
    std::string out, err;
};

run_result run(std::string_view name, std::string args)
{
    const task_function fn = find_task_function(name);
    BOOST_REQUIRE(fn != nullptr);
    recording_context ctx(std::move(args));
    const int code = fn(ctx, {});
    return {code, ctx.out, ctx.err};
}

int noop(task_context&, std::span<const char>) { return 0; }

} // namespace

BOOST_AUTO_TEST_SUITE(builtin_tasks)

BOOST_AUTO_TEST_CASE(prime_by_trial_division)
{
    BOOST_TEST(!check_prime(0).prime);
    BOOST_TEST(!check_prime(1).prime);
    BOOST_TEST(check_prime(2).prime);
    BOOST_TEST(check_prime(3).prime);
    BOOST_TEST(check_prime(4).divisor == 2u);
    BOOST_TEST(check_prime(9).divisor == 3u);
    BOOST_TEST(check_prime(1000000007).prime);
    BOOST_TEST(check_prime(4294967291).prime);       // largest 32-bit prime
    BOOST_TEST(check_prime(29355126551).prime);
    BOOST_TEST(check_prime(600851475143).divisor == 71u);
    BOOST_TEST(check_prime(4294967297).divisor == 641u); // Fermat's F5
    BOOST_TEST(check_prime(18446744073709551615ull).divisor == 3u);
    BOOST_TEST(check_prime(4295098369).divisor == 65537u); // 65537^2: the sqrt bound is inclusive
}

BOOST_AUTO_TEST_CASE(fib_by_recursion)
{
    const std::uint64_t expect[] = {0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55};
    for (unsigned n = 0; n <= 10; ++n)
        BOOST_TEST(naive_fib(n) == expect[n]);
    BOOST_TEST(naive_fib(30) == 832040u);
}

BOOST_AUTO_TEST_CASE(output_and_bad_arguments)
{
    auto r = run("prime", "n=29355126551");
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.out == "29355126551 is prime\n");
    r = run("prime", "x=1&n=600851475143");
    BOOST_TEST(r.out == "600851475143 is not prime: divisible by 71\n");
    r = run("prime", "n=1");
    BOOST_TEST(r.out == "1 is not prime\n");
    r = run("fib", "n=20");
    BOOST_TEST(r.code == 0);
    BOOST_TEST(r.out == "6765\n");
    for (auto [name, args] : {std::pair{"prime", ""}, {"prime", "n="}, {"prime", "n=-3"}, {"prime", "n=12a"},
                              {"prime", "n=18446744073709551616"}, {"fib", "n=93"}, {"fib", "m=3"}}) {
        r = run(name, args);
        BOOST_TEST(r.code == 2, name << "?" << args);
        BOOST_TEST(r.out.empty());
        BOOST_TEST(!r.err.empty());
    }
    BOOST_TEST(query_value("a=1&n=5&n=6", "n").value_or("none") == "5");
    BOOST_TEST(!query_value("an=5", "n").has_value());
}

BOOST_AUTO_TEST_CASE(the_registry_maps_names_to_commands_and_functions)
{
    BOOST_TEST(register_task_function("unit-noop", noop));
    BOOST_TEST(!register_task_function("unit-noop", noop)); // taken
    BOOST_TEST(!register_task_function("bad name", noop));
    BOOST_TEST(!register_task_function("prime", noop));
    BOOST_TEST(find_task_function("unit-noop") == &noop);
    BOOST_TEST(find_task_function("nope") == nullptr);
    BOOST_TEST(task_function_names().find("builtin:unit-noop") != std::string::npos);

    task_pool_settings s;
    s.tasks = {{"echo", {"cat"}, ""}, {"p", {}, "prime"}};
    set_task_limit(s, "timeout", "p", 1234);
    const task_registry reg(s);
    BOOST_TEST(reg.index_of("p") == 1);
    BOOST_TEST(reg.index_of("nope") == -1);
    const task_entry* e = reg.find("echo");
    BOOST_REQUIRE(e);
    BOOST_TEST(!e->function);
    BOOST_TEST(e->argv == std::vector<std::string>{"cat"});
    e = reg.find("p");
    BOOST_REQUIRE(e);
    BOOST_REQUIRE(e->function.target<task_function>() != nullptr);
    BOOST_TEST(*e->function.target<task_function>() == find_task_function("prime"));
    BOOST_TEST(e->limits.timeout_ms == 1234u);
}

BOOST_AUTO_TEST_CASE(the_applications_tasks_join_the_table)
{
    ringfork::detail::app_spec app;
    app.function_tasks.push_back({"shout",
                                  [](ringfork::task_context& ctx, std::string_view input) {
                                      ctx.progress("shouting");
                                      ctx.emit("<");
                                      std::string out(input);
                                      for (char& c : out)
                                          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
                                      return out + ">";
                                  },
                                  {std::chrono::milliseconds(2500), std::chrono::milliseconds(300), 2}});
    app.function_tasks.push_back({"boom", [](ringfork::task_context&, std::string_view) -> std::string {
                                      throw std::runtime_error("no such thing");
                                  }, {}});
    app.command_tasks.push_back({"list", {"ls", "-l"}, {}});
    app.command_tasks.push_back({"replaced", {"false"}, {}});
    task_pool_settings s;
    s.tasks = {{"replaced", {"true"}, ""}};  // a --task of the same name wins
    set_task_limit(s, "grace", "shout", 900); // and so does a flag for the same task
    add_app_tasks(s, app);
    BOOST_TEST(s.tasks.size() == 4u);
    std::string error;
    BOOST_TEST(check_task_settings(s, error), error);
    const task_registry reg(s);
    const task_entry* shout = reg.find("shout");
    BOOST_REQUIRE(shout);
    BOOST_TEST(shout->limits.timeout_ms == 2500u);
    BOOST_TEST(shout->limits.grace_ms == 900u);
    BOOST_TEST(shout->limits.concurrency == 2u);
    BOOST_REQUIRE(shout->function);
    recording_context ctx("");
    const std::string input = "hey";
    BOOST_TEST(shout->function(ctx, input) == 0);
    BOOST_TEST(ctx.out == "<HEY>"); // what it emitted, then what it returned
    BOOST_TEST(ctx.lines == std::vector<std::string>{"shouting"});
    const task_entry* boom = reg.find("boom");
    BOOST_REQUIRE(boom);
    BOOST_CHECK_THROW(boom->function(ctx, {}), std::runtime_error); // the runner fails the job with it
    BOOST_TEST(reg.find("list")->argv == (std::vector<std::string>{"ls", "-l"}));
    BOOST_TEST(!reg.find("list")->function);
    BOOST_TEST(reg.find("replaced")->argv == std::vector<std::string>{"true"});
}

BOOST_AUTO_TEST_SUITE_END()
