// Control socket: command dispatch, the socket file's mode and takeover rules, a whole
// request through ctl's client, and the new command-line flags.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <cstring>

#include "master/admin/control.hpp"
#include "master/ctl/ctl.hpp"
#include "master/config/options.hpp"
#include "net/unix_address.hpp"

using namespace ringfork::master;

namespace {

std::string temp_socket_path(const char* name)
{
    return fmt::format("/tmp/rf-test-{}-{}.sock", name, getpid());
}

/// Opens `s` at a fresh temporary path named after `name`; returns the path.
std::string open_at_temp_path(control_server& s, const char* name)
{
    const std::string path = temp_socket_path(name);
    ::unlink(path.c_str());
    std::string error;
    BOOST_REQUIRE_MESSAGE(s.open(path, error), error);
    return path;
}

/// Drives the server's poll loop until `done` or about two seconds pass.
void drive(control_server& s, const std::atomic<bool>& done)
{
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    std::uint64_t now = 1000;
    while (!done && std::chrono::steady_clock::now() < until) {
        std::vector<pollfd> fds;
        s.add_pollfds(fds);
        ::poll(fds.data(), fds.size(), 20);
        s.handle(fds, now += 20);
    }
}

} // namespace

BOOST_AUTO_TEST_SUITE(control_socket)

BOOST_AUTO_TEST_CASE(dispatch_splits_command_and_argument)
{
    control_server s;
    s.add("scale", [](std::string_view arg) { return control_reply{true, "n=" + std::string(arg)}; });
    s.add("stop", [](std::string_view) { return control_reply{true, "old"}; });
    s.add("stop", [](std::string_view) { return control_reply{true, "new"}; });
    BOOST_TEST(s.dispatch("scale  4\r").body == "n=4");
    BOOST_TEST(s.dispatch("stop").body == "new");
    const control_reply r = s.dispatch("nope");
    BOOST_TEST(!r.ok);
    BOOST_TEST(r.body.find("unknown command 'nope'") != std::string::npos);
    BOOST_TEST(r.body.find("scale, stop") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(socket_file_mode_takeover_and_removal)
{
    const std::string path = temp_socket_path("mode");
    ::unlink(path.c_str());
    std::string error;
    {
        control_server a;
        BOOST_REQUIRE_MESSAGE(a.open(path, error), error);
        struct stat st{};
        BOOST_REQUIRE(::lstat(path.c_str(), &st) == 0);
        BOOST_TEST((st.st_mode & 0777) == 0600u);
        control_server b; // a live server answers: refused, and the file stays
        BOOST_TEST(!b.open(path, error));
        BOOST_TEST(error.find("a running server answers") != std::string::npos);
        BOOST_TEST(::access(path.c_str(), F_OK) == 0);
    }
    BOOST_TEST(::access(path.c_str(), F_OK) != 0); // removed on close

    // A stale socket (nobody listening) is replaced.
    {
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        const ringfork::net::unix_address sa = *ringfork::net::make_unix_address(path);
        BOOST_REQUIRE(::bind(fd, sa.get(), sa.length) == 0);
        ::close(fd);
        control_server c;
        BOOST_TEST(c.open(path, error), error);
    }
    // A regular file is never replaced.
    std::ofstream(path) << "precious";
    control_server d;
    BOOST_TEST(!d.open(path, error));
    BOOST_TEST(error.find("not a socket") != std::string::npos);
    ::unlink(path.c_str());
}

BOOST_AUTO_TEST_CASE(request_through_the_client)
{
    const std::string path = temp_socket_path("client");
    ::unlink(path.c_str());
    control_server s;
    std::string error;
    BOOST_REQUIRE_MESSAGE(s.open(path, error), error);
    s.add("stats", [](std::string_view arg) { return control_reply{true, "table " + std::string(arg) + "\n"}; });
    s.add("reload", [](std::string_view) { return control_reply{false, "reload: not supported yet"}; });
    std::atomic<bool> done{false};
    std::optional<std::string> ok, refused;
    std::string ok_error, refused_error;
    std::thread client([&] {
        ok = control_request(path, "stats json", ok_error);
        refused = control_request(path, "reload", refused_error);
        done = true;
    });
    drive(s, done);
    client.join();
    BOOST_REQUIRE_MESSAGE(ok.has_value(), ok_error);
    BOOST_TEST(*ok == "table json\n");
    BOOST_TEST(!refused.has_value());
    BOOST_TEST(refused_error == "reload: not supported yet");
}

BOOST_AUTO_TEST_CASE(an_over_long_line_gets_an_error_line_not_a_reset)
{
    control_server s;
    const std::string path = open_at_temp_path(s, "long");
    std::atomic<bool> done{false};
    std::string got, failure;
    std::thread client([&] {
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        const ringfork::net::unix_address sa = *ringfork::net::make_unix_address(path);
        if (::connect(fd, sa.get(), sa.length) != 0)
            failure = "connect";
        const std::string line(20000, 'x');
        if (failure.empty() && ::send(fd, line.data(), line.size(), MSG_NOSIGNAL) != ssize_t(line.size()))
            failure = fmt::format("send: {}", std::strerror(errno));
        char buf[512];
        for (ssize_t n; failure.empty() && (n = ::recv(fd, buf, sizeof buf, 0)) != 0;)
            if (n < 0)
                failure = fmt::format("recv: {}", std::strerror(errno));
            else
                got.append(buf, std::size_t(n));
        ::close(fd);
        done = true;
    });
    drive(s, done);
    client.join();
    BOOST_TEST(failure == "");
    BOOST_TEST(got == "error request longer than 256 bytes\n");
}

BOOST_AUTO_TEST_CASE(idle_connections_give_way_to_a_request)
{
    control_server s;
    const std::string path = open_at_temp_path(s, "idle");
    s.add("stats", [](std::string_view) { return control_reply{true, "fine\n"}; });
    std::atomic<bool> done{false};
    std::optional<std::string> answer;
    std::string answer_error;
    std::vector<int> idle;
    std::thread client([&] {
        const ringfork::net::unix_address sa = *ringfork::net::make_unix_address(path);
        for (std::size_t i = 0; i < control_server::limits.max_connections * 2 + 1; ++i) {
            int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
            (void)::connect(fd, sa.get(), sa.length);
            idle.push_back(fd);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100)); // let the server take them all
        answer = control_request(path, "stats", answer_error);
        done = true;
    });
    drive(s, done);
    client.join();
    BOOST_REQUIRE_MESSAGE(answer.has_value(), answer_error);
    BOOST_TEST(*answer == "fine\n");
    for (int fd : idle)
        ::close(fd);
}

BOOST_AUTO_TEST_CASE(the_client_talks_only_to_root_or_its_own_user)
{
    if (::geteuid() != 0)
        return; // needs a server of another user
    const std::string path = temp_socket_path("foreign");
    ::unlink(path.c_str());
    int ready[2];
    BOOST_REQUIRE(::pipe(ready) == 0);
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        // A listener planted by another user (nobody) at the control path.
        if (::setgid(65534) != 0 || ::setuid(65534) != 0)
            _exit(1);
        int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
        const ringfork::net::unix_address sa = *ringfork::net::make_unix_address(path);
        if (::bind(fd, sa.get(), sa.length) != 0 || ::listen(fd, 4) != 0)
            _exit(2);
        (void)!::write(ready[1], "r", 1);
        const int c = ::accept(fd, nullptr, nullptr);
        char buf[512];
        const ssize_t n = c >= 0 ? ::recv(c, buf, sizeof buf, 0) : -1;
        (void)!::send(c, "ok\nlies\n", 8, MSG_NOSIGNAL);
        _exit(n > 0 ? 3 : 0); // 3: the client sent it a command
    }
    ::close(ready[1]);
    char r;
    BOOST_REQUIRE(::read(ready[0], &r, 1) == 1);
    ::close(ready[0]);
    std::string error;
    BOOST_TEST(!control_request(path, "stop", error));
    BOOST_TEST(error.find("served by uid 65534, neither root nor this user") != std::string::npos, error);
    int status = 0;
    ::waitpid(child, &status, 0);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0); // nothing was sent to it
    ::unlink(path.c_str());
}

BOOST_AUTO_TEST_CASE(stats_flags)
{
    options o;
    std::vector<const char*> args = {"--control", "/tmp/c.sock", "--admin", "127.0.0.1:0", "--stats-interval", "100ms"};
    BOOST_TEST(parse_options(args, o).error.empty());
    BOOST_TEST(o.control_path == "/tmp/c.sock");
    BOOST_REQUIRE(o.admin.size() == 1u);
    BOOST_TEST(o.worker.stats_interval_ms == 100u);
    options p;
    args = {"--stats-interval", "0.5"};
    BOOST_TEST(parse_options(args, p).error.empty());
    BOOST_TEST(p.worker.stats_interval_ms == 500u);
    BOOST_TEST(!parse_options(std::vector<const char*>{"--stats-interval", "250"}, p).error.empty()); // 250 s
    BOOST_TEST(!parse_options(std::vector<const char*>{"--stats-interval", "1ms"}, p).error.empty());
    options q;
    args = {"--admin", "0.0.0.0:9000"};
    BOOST_TEST(parse_options(args, q).error.find("--admin-public") != std::string::npos);
    options r;
    args = {"--admin", "0.0.0.0:9000", "--admin-public"};
    BOOST_TEST(parse_options(args, r).error.empty());
}

BOOST_AUTO_TEST_SUITE_END()
