// The master <-> runner channel: messages and the job socket they carry (SCM_RIGHTS).
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "ipc/task_channel.hpp"

using namespace ringfork;
using namespace ringfork::ipc;

namespace {

struct channel_pair {
    net::unique_fd a, b;
    channel_pair()
    {
        int sv[2];
        BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
        a.reset(sv[0]);
        b.reset(sv[1]);
    }
};

bool same_file(int x, int y)
{
    struct stat sx{}, sy{};
    return ::fstat(x, &sx) == 0 && ::fstat(y, &sy) == 0 && sx.st_dev == sy.st_dev && sx.st_ino == sy.st_ino;
}

/// Descriptors open in this process.
int open_fds()
{
    int n = 0;
    for (int fd = 0; fd < 1024; ++fd)
        n += ::fcntl(fd, F_GETFD) != -1;
    return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(task_channel)

BOOST_AUTO_TEST_CASE(run_job_carries_the_job_socket)
{
    channel_pair ch;
    channel_pair job;
    runner_message m;
    m.type = runner_msg::run_job;
    set_text(m.job.id, "0123456789abcdef0123456789abcdef");
    set_text(m.job.name, "echo");
    m.job.flags = job_stream;
    BOOST_TEST(send_runner_message(ch.a.get(), m, job.b.get()) == 0);

    runner_message got;
    net::unique_fd fd;
    BOOST_TEST(recv_runner_message(ch.b.get(), got, fd) == 1);
    BOOST_TEST(int(got.type) == int(runner_msg::run_job));
    BOOST_TEST(text_of(got.job.name) == "echo");
    BOOST_REQUIRE(fd);
    BOOST_TEST(fd.get() != job.b.get());
    BOOST_TEST(same_file(fd.get(), job.b.get()));
    BOOST_TEST((::fcntl(fd.get(), F_GETFD) & FD_CLOEXEC) != 0);
    // The passed descriptor is the same socket: what the runner writes, the submitter reads.
    BOOST_TEST(::send(fd.get(), "hi", 2, 0) == 2);
    char buf[4] = {};
    BOOST_TEST(::recv(job.a.get(), buf, sizeof buf, 0) == 2);
    BOOST_TEST(std::string(buf, 2) == "hi");
}

BOOST_AUTO_TEST_CASE(messages_without_a_descriptor)
{
    channel_pair ch;
    runner_message m;
    m.type = runner_msg::done;
    m.exit_code = 3;
    m.rss_kb = 12345;
    set_text(m.text, "exit code 3");
    BOOST_TEST(send_runner_message(ch.b.get(), m) == 0);
    runner_message got;
    net::unique_fd fd(::dup(0));
    BOOST_TEST(recv_runner_message(ch.a.get(), got, fd) == 1);
    BOOST_TEST(!fd); // reset: nothing was attached
    BOOST_TEST(got.exit_code == 3);
    BOOST_TEST(got.rss_kb == 12345u);
    BOOST_TEST(text_of(got.text) == "exit code 3");
    BOOST_TEST(recv_runner_message(ch.a.get(), got, fd) == -EAGAIN);
    ch.b.reset();
    BOOST_TEST(recv_runner_message(ch.a.get(), got, fd) == 0);
}

BOOST_AUTO_TEST_CASE(wrong_packets_are_refused_and_leak_nothing)
{
    channel_pair ch;
    const int before = open_fds();
    // A short packet with a descriptor attached: refused, and the descriptor closed.
    const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    BOOST_TEST(send_with_fd(ch.a.get(), "short", 5, devnull) == 0);
    ::close(devnull);
    runner_message got;
    net::unique_fd fd;
    BOOST_TEST(recv_runner_message(ch.b.get(), got, fd) == -EPROTO);
    BOOST_TEST(!fd);
    // A packet longer than the message: truncated, refused.
    std::string big(sizeof(runner_message) + 100, 'x');
    BOOST_TEST(send_with_fd(ch.a.get(), big.data(), big.size(), -1) == 0);
    BOOST_TEST(recv_runner_message(ch.b.get(), got, fd) == -EMSGSIZE);
    // Another version.
    runner_message m;
    m.version = runner_protocol_version + 1;
    BOOST_TEST(send_runner_message(ch.a.get(), m) == 0);
    BOOST_TEST(recv_runner_message(ch.b.get(), got, fd) == -EPROTO);
    BOOST_TEST(open_fds() == before);
}

BOOST_AUTO_TEST_SUITE_END()
