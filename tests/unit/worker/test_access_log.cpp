// The worker's access log: line format, escaping, buffering and taking over a reopened file.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "net/http_parser.hpp"
#include "worker/access_log.hpp"

using namespace ringfork;

namespace {

/// An anonymous file standing in for the log the master opens.
struct memfile {
    net::unique_fd fd{::memfd_create("rf-access-log", MFD_CLOEXEC)};
    int writer() const { return ::fcntl(fd.get(), F_DUPFD_CLOEXEC, 0); }
    std::string text() const
    {
        std::string out(static_cast<std::size_t>(::lseek(fd.get(), 0, SEEK_END)), '\0');
        BOOST_REQUIRE(::pread(fd.get(), out.data(), out.size(), 0) == static_cast<ssize_t>(out.size()));
        return out;
    }
};

http::request_summary get(std::string_view target)
{
    http::request_summary r;
    r.method = "GET";
    r.target = target;
    r.version_minor = 1;
    return r;
}

constexpr std::time_t when = 1'795'999'073; // 2026-11-30T00:37:53Z

} // namespace

BOOST_AUTO_TEST_SUITE(access_log)

BOOST_AUTO_TEST_CASE(combined_format_line)
{
    memfile f;
    auto log = worker::access_log::adopt(net::unique_fd(f.writer()), "memfd");
    BOOST_TEST(log.enabled());
    log.record("127.0.0.1", get("/a b\"c"), 200, 13, when);
    BOOST_TEST(f.text().empty()); // buffered until flushed
    log.flush();
    BOOST_TEST(f.text() == "127.0.0.1 - - [30/Nov/2026:00:37:53 +0000] \"GET /a b\\x22c HTTP/1.1\" 200 13 \"-\" \"-\"\n");
    http::request_summary r = get("/");
    r.version_minor = 0;
    r.referer = "http://r/";
    r.user_agent = "ua\n1";
    log.record("", r, 304, 0, when + 61);
    log.flush();
    BOOST_TEST(f.text().substr(f.text().find('\n') + 1) ==
               "- - - [30/Nov/2026:00:38:54 +0000] \"GET / HTTP/1.0\" 304 0 \"http://r/\" \"ua\\x0A1\"\n");
}

BOOST_AUTO_TEST_CASE(escaping)
{
    std::string out;
    worker::append_escaped(out, std::string_view("a\\b\x01\x7f\xc3 ok", 9));
    BOOST_TEST(out == "a\\x5Cb\\x01\\x7F\\xC3 ok");
}

BOOST_AUTO_TEST_CASE(flushes_itself_past_the_buffer_size)
{
    memfile f;
    auto log = worker::access_log::adopt(net::unique_fd(f.writer()), "memfd");
    std::size_t lines = 0;
    while (f.text().empty() && lines < 10'000) {
        log.record("10.0.0.1", get("/x"), 404, 0, when);
        ++lines;
    }
    BOOST_TEST(!f.text().empty());
    BOOST_TEST(f.text().size() >= worker::access_log::flush_bytes);
}

BOOST_AUTO_TEST_CASE(reopen_flushes_to_the_old_file_then_takes_the_new_one)
{
    memfile old_file, new_file;
    auto log = worker::access_log::adopt(net::unique_fd(old_file.writer()), "memfd");
    log.record("127.0.0.1", get("/before"), 200, 1, when);
    log.reopen(net::unique_fd(new_file.writer()));
    log.record("127.0.0.1", get("/after"), 200, 2, when);
    log.flush();
    BOOST_TEST(old_file.text().find("/before") != std::string::npos);
    BOOST_TEST(old_file.text().find("/after") == std::string::npos);
    BOOST_TEST(new_file.text().find("/after") != std::string::npos);
    BOOST_TEST(new_file.text().find("/before") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(reopen_without_a_file_keeps_the_current_one)
{
    memfile f;
    auto log = worker::access_log::adopt(net::unique_fd(f.writer()), "memfd");
    log.reopen(net::unique_fd());
    log.record("127.0.0.1", get("/still"), 200, 0, when);
    log.flush();
    BOOST_TEST(log.enabled());
    BOOST_TEST(f.text().find("/still") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(disabled_without_a_file)
{
    worker::access_log log;
    BOOST_TEST(!log.enabled());
    log.record("127.0.0.1", get("/"), 200, 0, when);
    log.flush(); // nothing to write to: no crash, nothing kept
}

BOOST_AUTO_TEST_SUITE_END()
