// Descriptor passing over the channel: what arrives, and that nothing leaks.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "ipc/fd_passing.hpp"
#include "ipc/messages.hpp"

using namespace ringfork;

namespace {

struct channel {
    int fd[2] = {-1, -1};
    channel() { BOOST_REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fd) == 0); }
    ~channel()
    {
        ::close(fd[0]);
        ::close(fd[1]);
    }
};

bool same_file(int a, int b)
{
    struct stat sa{}, sb{};
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

/// Sends `n` descriptors of `fd` in one SCM_RIGHTS message (a misbehaving sender).
void send_many(int socket, int fd, int n)
{
    char byte = 'x';
    iovec iov{&byte, 1};
    alignas(cmsghdr) unsigned char control[CMSG_SPACE(sizeof(int) * 8)] = {};
    msghdr m{};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    cmsghdr* c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    for (int i = 0; i < n; ++i)
        std::memcpy(CMSG_DATA(c) + i * sizeof(int), &fd, sizeof fd);
    BOOST_REQUIRE(sendmsg(socket, &m, 0) == 1);
}

} // namespace

BOOST_AUTO_TEST_SUITE(fd_passing)

BOOST_AUTO_TEST_CASE(a_descriptor_arrives_with_its_datagram)
{
    channel ch;
    const net::unique_fd file(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    BOOST_REQUIRE(ipc::send_with_fd(ch.fd[0], "hello", 5, file.get()) == 0);
    char buf[16] = {};
    net::unique_fd got;
    BOOST_TEST(ipc::recv_with_fd(ch.fd[1], buf, sizeof buf, got) == 5);
    BOOST_TEST(std::string(buf) == "hello");
    BOOST_REQUIRE(got);
    BOOST_TEST(got.get() != file.get());
    BOOST_TEST(same_file(got.get(), file.get()));
    BOOST_TEST((fcntl(got.get(), F_GETFD) & FD_CLOEXEC) != 0);
}

BOOST_AUTO_TEST_CASE(no_descriptor_no_file_and_eagain_when_empty)
{
    channel ch;
    BOOST_REQUIRE(ipc::send_with_fd(ch.fd[0], "x", 1, -1) == 0);
    char buf[4];
    net::unique_fd got;
    BOOST_TEST(ipc::recv_with_fd(ch.fd[1], buf, sizeof buf, got) == 1);
    BOOST_TEST(!got);
    BOOST_TEST(ipc::recv_with_fd(ch.fd[1], buf, sizeof buf, got) == -EAGAIN);
}

BOOST_AUTO_TEST_CASE(extra_and_untaken_descriptors_are_closed)
{
    channel ch;
    const net::unique_fd file(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    send_many(ch.fd[0], file.get(), 3);
    char byte;
    ipc::datagram_inbox box(&byte, 1);
    BOOST_REQUIRE(::recvmsg(ch.fd[1], box.prepare(), MSG_CMSG_CLOEXEC) == 1);
    // Three arrived as three new descriptors; taking one closes the other two.
    const int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC); // lowest free number
    ::close(probe);
    net::unique_fd first = box.take_fd();
    BOOST_REQUIRE(first);
    BOOST_TEST(!box.take_fd()); // taken once
    const int after = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    BOOST_TEST(after <= probe + 1); // the two extra were closed, so numbers are free again
    ::close(after);

    // One that arrives and is never taken is closed by the next prepare().
    send_many(ch.fd[0], file.get(), 1);
    BOOST_REQUIRE(::recvmsg(ch.fd[1], box.prepare(), MSG_CMSG_CLOEXEC) == 1);
    int arrived = -1;
    for (int fd = 3; fd < 1024 && arrived < 0; ++fd)
        if (fd != first.get() && fd != file.get() && fd != ch.fd[0] && fd != ch.fd[1] && is_open(fd) &&
            same_file(fd, file.get()))
            arrived = fd;
    BOOST_REQUIRE(arrived >= 0);
    (void)box.prepare();
    BOOST_TEST(!is_open(arrived));
}

BOOST_AUTO_TEST_CASE(channel_message_with_a_descriptor)
{
    channel ch;
    const net::unique_fd file(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    ipc::message m;
    m.type = ipc::msg_type::reopen_logs;
    BOOST_REQUIRE(ipc::send_message(ch.fd[0], m, file.get()) == 0);
    ipc::message_inbox inbox;
    const ssize_t n = ::recvmsg(ch.fd[1], inbox.prepare(), MSG_CMSG_CLOEXEC);
    BOOST_TEST(inbox.valid(n));
    BOOST_TEST(int(inbox.msg.type) == int(ipc::msg_type::reopen_logs));
    net::unique_fd got = inbox.take_fd();
    BOOST_TEST(same_file(got.get(), file.get()));
}

BOOST_AUTO_TEST_SUITE_END()
