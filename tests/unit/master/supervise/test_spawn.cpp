// The one spawn routine: channel, descriptor hygiene, exit code.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "master/supervise/spawn.hpp"

using namespace ringfork::master;

namespace {

bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1 || errno != EBADF; }

int wait_exit_code(pid_t pid)
{
    int status = 0;
    BOOST_REQUIRE(waitpid(pid, &status, 0) == pid);
    BOOST_REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status);
}

} // namespace

BOOST_AUTO_TEST_SUITE(spawn_routine)

BOOST_AUTO_TEST_CASE(child_keeps_only_its_channel_and_the_named_descriptors)
{
    int kept[2], dropped[2];
    BOOST_REQUIRE(pipe(kept) == 0); // no CLOEXEC: only the routine can close them
    BOOST_REQUIRE(pipe(dropped) == 0);
    auto child = spawn_child({"test child", {kept[1]}}, [&](int channel_fd) {
        // One byte per question, read by the parent over the channel.
        const char answers[3] = {char(is_open(kept[1])), char(is_open(dropped[0]) || is_open(dropped[1])),
                                 char(is_open(kept[0]))};
        return ::send(channel_fd, answers, sizeof answers, 0) == 3 ? 7 : 1;
    });
    BOOST_REQUIRE(child);
    BOOST_TEST(child->pid > 0);
    BOOST_TEST((fcntl(child->channel.get(), F_GETFL) & O_NONBLOCK) != 0);
    pollfd p{child->channel.get(), POLLIN, 0};
    BOOST_REQUIRE(::poll(&p, 1, 10'000) == 1);
    char got[3] = {};
    BOOST_REQUIRE(::recv(child->channel.get(), got, sizeof got, 0) == 3);
    BOOST_TEST(got[0] == 1); // kept
    BOOST_TEST(got[1] == 0); // not named: closed
    BOOST_TEST(got[2] == 0); // the other end of a kept pipe is not kept
    BOOST_TEST(wait_exit_code(child->pid) == 7);
    for (int fd : {kept[0], kept[1], dropped[0], dropped[1]})
        ::close(fd);
}

BOOST_AUTO_TEST_CASE(channel_end_closes_when_the_child_exits)
{
    auto child = spawn_child({"test child", {}}, [](int) { return 3; });
    BOOST_REQUIRE(child);
    BOOST_TEST(wait_exit_code(child->pid) == 3);
    pollfd p{child->channel.get(), POLLIN, 0};
    BOOST_REQUIRE(::poll(&p, 1, 10'000) == 1);
    char c;
    BOOST_TEST(::recv(child->channel.get(), &c, 1, 0) == 0); // EOF: the child held the only other end
}

BOOST_AUTO_TEST_SUITE_END()
