// The task protocol: names and ids, fixed text fields, records on a SOCK_SEQPACKET job
// socket, outcome statuses, and the pool's counters.
#include <boost/test/unit_test.hpp>

#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "ipc/task_protocol.hpp"
#include "net/fd.hpp"

using namespace ringfork;
using namespace ringfork::ipc;

namespace {

struct seqpacket_pair {
    net::unique_fd a, b;
    seqpacket_pair()
    {
        int sv[2];
        BOOST_REQUIRE(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
        a.reset(sv[0]);
        b.reset(sv[1]);
    }
};

/// One packet from `fd` (blocking), as bytes.
std::string recv_packet(int fd)
{
    std::string buf(record_bytes_max + 1024, '\0');
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    BOOST_REQUIRE(n >= 0);
    buf.resize(static_cast<std::size_t>(n));
    return buf;
}

} // namespace

BOOST_AUTO_TEST_SUITE(task_protocol)

BOOST_AUTO_TEST_CASE(task_names_and_job_ids)
{
    BOOST_TEST(valid_task_name("echo"));
    BOOST_TEST(valid_task_name("A-z_09"));
    BOOST_TEST(valid_task_name(std::string(64, 'x')));
    BOOST_TEST(!valid_task_name(std::string(65, 'x')));
    BOOST_TEST(!valid_task_name(""));
    for (const char* bad : {"a.b", "a/b", "a b", "..", "é", "a\nb"})
        BOOST_TEST(!valid_task_name(bad), bad);

    BOOST_TEST(valid_job_id("0123456789abcdef0123456789abcdef"));
    for (const char* bad : {"0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0",
                            "0123456789ABCDEF0123456789abcdef", "0123456789abcdef0123456789abcdeg", ""})
        BOOST_TEST(!valid_job_id(bad), bad);
}

BOOST_AUTO_TEST_CASE(text_fields_truncate_and_never_overread)
{
    char field[8];
    set_text(field, "abc");
    BOOST_TEST(text_of(field) == "abc");
    set_text(field, "0123456789");
    BOOST_TEST(text_of(field) == "0123456");
    BOOST_TEST(field[7] == '\0');
    char unterminated[4] = {'w', 'x', 'y', 'z'};
    BOOST_TEST(text_of(unterminated) == "wxyz");
    set_text(field, "");
    BOOST_TEST(text_of(field).empty());
}

BOOST_AUTO_TEST_CASE(records_keep_their_boundaries)
{
    seqpacket_pair p;
    BOOST_TEST(send_record(p.a.get(), record_type::queued, {}) == 0);
    const std::string out(record_bytes_max, 'o');
    BOOST_TEST(send_record(p.a.get(), record_type::output, out) == 0);
    started_record s;
    s.runner_pid = 41;
    s.pgid = 42;
    BOOST_TEST(send_record_of(p.a.get(), record_type::started, s) == 0);
    result_record r;
    r.outcome = job_outcome::failed;
    r.exit_code = 3;
    r.elapsed_ms = 1500;
    r.output_bytes = 7;
    set_text(r.reason, "exit code 3");
    BOOST_TEST(send_record_of(p.a.get(), record_type::result, r) == 0);

    const std::string q = recv_packet(p.b.get());
    auto v = parse_record(q);
    BOOST_REQUIRE(v);
    BOOST_TEST(int(v->type) == int(record_type::queued));
    BOOST_TEST(v->payload.empty());

    const std::string o = recv_packet(p.b.get());
    v = parse_record(o);
    BOOST_REQUIRE(v);
    BOOST_TEST(int(v->type) == int(record_type::output));
    BOOST_TEST(std::string(v->payload.data(), v->payload.size()) == out);

    const std::string st = recv_packet(p.b.get());
    v = parse_record(st);
    BOOST_REQUIRE(v);
    const auto started = payload_as<started_record>(*v);
    BOOST_REQUIRE(started);
    BOOST_TEST(started->pgid == 42);
    BOOST_TEST(!payload_as<result_record>(*v)); // wrong size for that type

    const std::string res = recv_packet(p.b.get());
    v = parse_record(res);
    BOOST_REQUIRE(v);
    const auto result = payload_as<result_record>(*v);
    BOOST_REQUIRE(result);
    BOOST_TEST(int(result->outcome) == int(job_outcome::failed));
    BOOST_TEST(result->exit_code == 3);
    BOOST_TEST(text_of(result->reason) == "exit code 3");
}

BOOST_AUTO_TEST_CASE(malformed_packets_are_refused)
{
    record_head h;
    h.type = record_type::output;
    h.length = 10;
    std::string packet(reinterpret_cast<const char*>(&h), sizeof h);
    BOOST_TEST(!parse_record(packet));              // declares 10 bytes, carries none
    packet += std::string(10, 'x');
    BOOST_TEST(parse_record(packet).has_value());
    packet += 'y';
    BOOST_TEST(!parse_record(packet));              // one byte more than declared
    BOOST_TEST(!parse_record(std::string_view("ab"))); // shorter than a head
    h.version = task_protocol_version + 1;
    h.length = 0;
    BOOST_TEST(!parse_record(std::string(reinterpret_cast<const char*>(&h), sizeof h)));
}

BOOST_AUTO_TEST_CASE(a_full_socket_says_eagain_and_a_closed_one_epipe)
{
    seqpacket_pair p;
    const std::string chunk(record_bytes_max, 'z');
    int rc = 0;
    for (int i = 0; i < 10000 && rc == 0; ++i)
        rc = send_record(p.a.get(), record_type::output, chunk);
    BOOST_TEST(rc == -EAGAIN);
    p.b.reset(); // with records unread: a reset rather than a plain EPIPE
    rc = send_record(p.a.get(), record_type::queued, {});
    BOOST_TEST((rc == -EPIPE || rc == -ECONNRESET), rc);
}

BOOST_AUTO_TEST_CASE(outcomes_answer_with_their_status)
{
    BOOST_TEST(job_http_status(job_outcome::ok, reject_reason::none) == 200u);
    BOOST_TEST(job_http_status(job_outcome::failed, reject_reason::none) == 502u);
    BOOST_TEST(job_http_status(job_outcome::crashed, reject_reason::none) == 502u);
    BOOST_TEST(job_http_status(job_outcome::timed_out, reject_reason::none) == 504u);
    BOOST_TEST(job_http_status(job_outcome::cancelled, reject_reason::none) == 409u);
    BOOST_TEST(job_http_status(job_outcome::rejected, reject_reason::unknown_task) == 404u);
    for (auto why : {reject_reason::queue_full, reject_reason::queue_timeout, reject_reason::shutting_down})
        BOOST_TEST(job_http_status(job_outcome::rejected, why) == 503u);
}

BOOST_AUTO_TEST_CASE(counters_merge)
{
    task_stats a, b;
    a.submitted = 3;
    a.ok = 2;
    a.latency.record(100);
    b.submitted = 4;
    b.cancelled = 1;
    b.rejected = 2;
    b.latency.record(200);
    a.merge(b);
    BOOST_TEST(a.submitted == 7u);
    BOOST_TEST(a.ok == 2u);
    BOOST_TEST(a.cancelled == 1u);
    BOOST_TEST(a.rejected == 2u);
    BOOST_TEST(a.latency.total() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()
