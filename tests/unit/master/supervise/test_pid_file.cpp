// The pid file: atomic replacement, and reading it back without trusting what is there.
#include <boost/test/unit_test.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "master/supervise/pid_file.hpp"

using namespace ringfork::master;

namespace {

struct temp_dir {
    std::string path;
    temp_dir()
    {
        char name[] = "/tmp/rf-pidfile-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(name));
        path = name;
    }
    ~temp_dir() { (void)!std::system(("rm -rf " + path).c_str()); }
    std::string operator/(const char* name) const { return path + "/" + name; }
};

std::size_t entries(const std::string& dir)
{
    std::size_t n = 0;
    for (const char* name : {"/rf.pid", "/other"})
        n += ::access((dir + name).c_str(), F_OK) == 0 ? 1u : 0u;
    return n;
}

} // namespace

BOOST_AUTO_TEST_SUITE(pid_file)

BOOST_AUTO_TEST_CASE(written_whole_and_read_back)
{
    temp_dir d;
    std::string error;
    BOOST_REQUIRE_MESSAGE(write_pid_file(d / "rf.pid", 4242, error), error);
    std::ifstream f(d / "rf.pid");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    BOOST_TEST(text == "4242\n");
    struct stat st{};
    BOOST_REQUIRE(::lstat((d / "rf.pid").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0644u);
    BOOST_TEST(read_pid_file(d / "rf.pid").value_or(0) == 4242);
    BOOST_TEST(entries(d.path) == 1u); // no temporary left behind
}

BOOST_AUTO_TEST_CASE(replaces_a_symlink_instead_of_following_it)
{
    temp_dir d;
    std::ofstream(d / "other") << "keep\n";
    BOOST_REQUIRE(::symlink((d / "other").c_str(), (d / "rf.pid").c_str()) == 0);
    BOOST_TEST(!read_pid_file(d / "rf.pid")); // never read through a link
    std::string error;
    BOOST_REQUIRE(write_pid_file(d / "rf.pid", 7, error));
    std::ifstream f(d / "other");
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    BOOST_TEST(text == "keep\n");
    BOOST_TEST(read_pid_file(d / "rf.pid").value_or(0) == 7);
}

BOOST_AUTO_TEST_CASE(reading_a_fifo_or_garbage_gives_nothing_and_never_blocks)
{
    temp_dir d;
    BOOST_REQUIRE(::mkfifo((d / "rf.pid").c_str(), 0600) == 0);
    BOOST_TEST(!read_pid_file(d / "rf.pid"));
    remove_pid_file(d / "rf.pid", 1); // not ours: left alone
    BOOST_TEST(::access((d / "rf.pid").c_str(), F_OK) == 0);
    ::unlink((d / "rf.pid").c_str());
    std::ofstream(d / "rf.pid") << "12ab\n";
    BOOST_TEST(!read_pid_file(d / "rf.pid"));
    BOOST_TEST(!read_pid_file(d / "missing"));
}

BOOST_AUTO_TEST_CASE(removed_only_when_it_holds_our_pid)
{
    temp_dir d;
    std::string error;
    BOOST_REQUIRE(write_pid_file(d / "rf.pid", 100, error));
    remove_pid_file(d / "rf.pid", 101); // a successor's
    BOOST_TEST(read_pid_file(d / "rf.pid").value_or(0) == 100);
    remove_pid_file(d / "rf.pid", 100);
    BOOST_TEST(::access((d / "rf.pid").c_str(), F_OK) != 0);
}

BOOST_AUTO_TEST_CASE(a_missing_directory_is_one_error_line)
{
    std::string error;
    BOOST_TEST(!write_pid_file("/nonexistent-rf/rf.pid", 1, error));
    BOOST_TEST(error.find("mkostemp /nonexistent-rf/rf.pid.XXXXXX: No such file or directory") == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
