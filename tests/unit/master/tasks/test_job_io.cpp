// A runner's side of a job's bytes: the job link's records, the output
// cap, out of space, stderr's last MiB, progress lines.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ipc/spool.hpp"
#include "master/tasks/job_io.hpp"

using namespace ringfork;
using namespace ringfork::master;

namespace {

struct pair_of {
    net::unique_fd a, b;
    explicit pair_of(int type)
    {
        int sv[2];
        BOOST_REQUIRE(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) == 0);
        a.reset(sv[0]);
        b.reset(sv[1]);
    }
};

ipc::job_header header(std::uint8_t flags, std::uint32_t body = 0)
{
    ipc::job_header h;
    h.flags = flags;
    h.body_length = body;
    ipc::set_text(h.id, "0123456789abcdef0123456789abcdef");
    return h;
}

std::string body_of(job_link& link)
{
    std::string out;
    char buf[5]; // smaller than a record: reads across record boundaries
    for (int i = 0; i < 10000; ++i) {
        const long n = link.read_body(buf);
        if (n == 0)
            return out;
        if (n == -EAGAIN)
            continue;
        BOOST_REQUIRE(n > 0);
        out.append(buf, static_cast<std::size_t>(n));
    }
    BOOST_FAIL("the body never ended");
    return out;
}

std::optional<ipc::record_view> next_record(int fd, std::string& buf)
{
    buf.assign(ipc::record_bytes_max + 256, '\0');
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n <= 0)
        return std::nullopt;
    buf.resize(static_cast<std::size_t>(n));
    return ipc::parse_record(buf);
}

struct temp_file {
    std::string path;
    temp_file()
    {
        char tmpl[] = "/tmp/rf-jobio-XXXXXX";
        const int fd = ::mkstemp(tmpl);
        BOOST_REQUIRE(fd >= 0);
        ::close(fd);
        path = tmpl;
    }
    ~temp_file() { ::unlink(path.c_str()); }
    net::unique_fd open_rw() const { return net::unique_fd(::open(path.c_str(), O_RDWR | O_CLOEXEC)); }
    std::string read() const
    {
        std::ifstream f(path, std::ios::binary);
        std::stringstream s;
        s << f.rdbuf();
        return s.str();
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(job_io)

BOOST_AUTO_TEST_CASE(a_body_arrives_in_records_until_body_end)
{
    pair_of p(SOCK_SEQPACKET);
    BOOST_TEST(ipc::send_record(p.a.get(), ipc::record_type::body, std::string_view("hello ")) == 0);
    BOOST_TEST(ipc::send_record(p.a.get(), ipc::record_type::body, std::string_view("world")) == 0);
    BOOST_TEST(ipc::send_record(p.a.get(), ipc::record_type::body_end, {}) == 0);
    job_link link(std::move(p.b), header(ipc::job_cancel_on_close, 11));
    BOOST_TEST(link.body_pending());
    BOOST_TEST(body_of(link) == "hello world");
    BOOST_TEST(!link.body_pending());
}

BOOST_AUTO_TEST_CASE(a_submitter_that_leaves_ends_the_body)
{
    pair_of p(SOCK_SEQPACKET);
    BOOST_TEST(ipc::send_record(p.a.get(), ipc::record_type::body, std::string_view("part")) == 0);
    p.a.reset(); // gone before body_end
    job_link link(std::move(p.b), header(ipc::job_cancel_on_close, 10));
    char buf[16];
    BOOST_TEST(link.read_body(buf) == 4);
    BOOST_TEST(link.read_body(buf) == -EPIPE);
}

BOOST_AUTO_TEST_CASE(a_malformed_body_is_refused)
{
    pair_of p(SOCK_SEQPACKET);
    BOOST_TEST(ipc::send_record(p.a.get(), ipc::record_type::result, std::string_view("x")) == 0);
    job_link link(std::move(p.b), header(0, 1));
    char buf[8];
    BOOST_TEST(link.read_body(buf) == -EPROTO);
    // No body expected at all: an async job's body is in the spool.
    pair_of q(SOCK_SEQPACKET);
    job_link async(std::move(q.b), header(ipc::job_async, 100));
    BOOST_TEST(!async.body_pending());
    BOOST_TEST(async.read_body(buf) == 0);
}

BOOST_AUTO_TEST_CASE(output_is_forwarded_with_its_offset_and_never_waits)
{
    pair_of p(SOCK_SEQPACKET);
    job_link link(std::move(p.b), header(ipc::job_stream | ipc::job_progress));
    link.started(10, 11);
    link.output(0, std::string_view("abc"));
    link.progress("50%");
    std::string buf;
    auto r = next_record(p.a.get(), buf);
    BOOST_REQUIRE(r);
    BOOST_TEST(int(r->type) == int(ipc::record_type::started));
    BOOST_TEST(ipc::payload_as<ipc::started_record>(*r)->pgid == 11);
    r = next_record(p.a.get(), buf);
    BOOST_REQUIRE(r);
    BOOST_TEST(int(r->type) == int(ipc::record_type::output));
    ipc::output_head head;
    std::memcpy(&head, r->payload.data(), sizeof head);
    BOOST_TEST(head.offset == 0u);
    BOOST_TEST(std::string(r->payload.data() + sizeof head, r->payload.size() - sizeof head) == "abc");
    r = next_record(p.a.get(), buf);
    BOOST_REQUIRE(r);
    BOOST_TEST(int(r->type) == int(ipc::record_type::progress));

    // A submitter that does not read: output() returns at once, dropping what does not fit;
    // once it reads again, the next record's offset shows the gap it reads from the file.
    const std::string chunk(ipc::record_bytes_max, 'x');
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 1000; ++i)
        link.output(std::uint64_t(i) * chunk.size(), chunk);
    const bool quick = std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2);
    BOOST_TEST(quick);
    std::uint64_t expect = 0, records = 0;
    while ((r = next_record(p.a.get(), buf))) {
        std::memcpy(&head, r->payload.data(), sizeof head);
        BOOST_TEST(head.offset == expect);
        expect = head.offset + (r->payload.size() - sizeof head);
        ++records;
    }
    BOOST_TEST(records > 0u);
    BOOST_TEST(records < 1000u);
    link.output(1000 * chunk.size(), std::string_view("tail"));
    r = next_record(p.a.get(), buf);
    BOOST_REQUIRE(r);
    std::memcpy(&head, r->payload.data(), sizeof head);
    BOOST_TEST(head.offset == 1000u * chunk.size());
    BOOST_TEST(head.offset > expect);

    // Without job_stream nothing is forwarded.
    pair_of q(SOCK_SEQPACKET);
    job_link quiet(std::move(q.b), header(0));
    quiet.output(0, std::string_view("abc"));
    quiet.progress("x");
    BOOST_TEST(!next_record(q.a.get(), buf));
}

BOOST_AUTO_TEST_CASE(the_output_cap_and_a_full_disk_close_the_output)
{
    temp_file f;
    output_sink out(f.open_rw(), 10);
    BOOST_TEST(out.write(std::string_view("12345")));
    BOOST_TEST(!out.write(std::string_view("6789abcdef")));
    BOOST_TEST(out.bytes() == 10u);
    BOOST_TEST(int(out.failure()) == int(ipc::job_failure::output_cap));
    BOOST_TEST(out.reason().find("10 bytes") != std::string::npos);
    BOOST_TEST(!out.write(std::string_view("x")));
    BOOST_TEST(f.read() == "123456789a");

    output_sink full(net::unique_fd(::open("/dev/full", O_WRONLY | O_CLOEXEC)), 1 << 20);
    BOOST_TEST(!full.write(std::string_view("x")));
    BOOST_TEST(int(full.failure()) == int(ipc::job_failure::no_space));
    BOOST_TEST(full.reason().find("no space") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(stderr_keeps_its_last_mib_and_logs_its_start)
{
    temp_file f;
    stderr_keeper small(f.open_rw(), 8);
    small.add(std::string_view("line one\nline two\n"));
    small.finish();
    BOOST_TEST(small.log_text() == "line one");
    BOOST_TEST(f.read() == "line one\nline two\n");

    temp_file g;
    stderr_keeper big(g.open_rw(), 16);
    std::string all;
    for (int i = 0; i < 3000; ++i) {
        const std::string piece = std::to_string(i) + std::string(500, char('a' + i % 26)) + "\n";
        all += piece;
        big.add(piece);
    }
    big.finish();
    const std::string kept = g.read();
    BOOST_TEST(kept.size() == ipc::stderr_keep);
    BOOST_TEST((kept == all.substr(all.size() - ipc::stderr_keep)));
    BOOST_TEST(big.log_text() == all.substr(0, 16));
}

BOOST_AUTO_TEST_CASE(progress_lines_are_split_and_cut)
{
    line_splitter s;
    std::vector<std::string> lines;
    const auto take = [&](std::string_view l) { lines.emplace_back(l); };
    s.feed(std::string_view("10%\n2"), take);
    s.feed(std::string_view("0%\r\n"), take);
    s.feed(std::string(1000, 'x') + "\n", take);
    BOOST_TEST(lines.size() == 3u);
    BOOST_TEST(lines[0] == "10%");
    BOOST_TEST(lines[1] == "20%");
    BOOST_TEST(lines[2].size() == ipc::job_text_max);
    BOOST_TEST(resident_kb() > 0u);
}

BOOST_AUTO_TEST_SUITE_END()
