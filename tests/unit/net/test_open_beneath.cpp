// The confined open, against a real temporary tree with links that stay and links that leave.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <string>

#include "net/open_beneath.hpp"
#include "tests/unit/temp_root.hpp"

using namespace ringfork;
namespace fs = std::filesystem;

namespace {

/// root/{file.txt, dir/inner.txt, links that stay and links that leave}.
struct tree : test::temp_root {
    tree()
    {
        write("file.txt", "inside");
        write("dir/inner.txt", "inner");
        fs::create_symlink("file.txt", root / "rel_inside");
        fs::create_symlink("../file.txt", root / "dir" / "rel_up_inside");
        fs::create_symlink("dir", root / "dir_link");
        fs::create_symlink("../outside.txt", root / "rel_out");
        fs::create_symlink((base / "outside.txt").string(), root / "abs_out");
        fs::create_symlink((root / "file.txt").string(), root / "abs_in");
    }

    [[nodiscard]] net::beneath_result open(const char* path, int flags = O_RDONLY) const
    {
        return net::open_beneath(root_fd.get(), path, flags);
    }
};

std::string read_all(int fd)
{
    char buf[64];
    const ssize_t n = ::pread(fd, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, std::size_t(n)) : std::string();
}

} // namespace

BOOST_AUTO_TEST_SUITE(open_beneath_suite)

BOOST_FIXTURE_TEST_CASE(files_and_links_that_stay_inside_open, tree)
{
    for (const char* p : {"file.txt", "rel_inside", "dir/rel_up_inside", "dir_link/inner.txt", "dir/../file.txt"}) {
        const auto r = open(p);
        BOOST_TEST_INFO(p);
        BOOST_TEST(bool(r.fd));
        BOOST_TEST(r.err == 0);
    }
    BOOST_TEST(read_all(open("rel_inside").fd.get()) == "inside");
    BOOST_TEST(read_all(open("dir_link/inner.txt").fd.get()) == "inner");
}

BOOST_FIXTURE_TEST_CASE(the_root_itself_and_directories, tree)
{
    BOOST_TEST(bool(open(".", O_RDONLY | O_DIRECTORY).fd));
    BOOST_TEST(bool(open("dir/", O_RDONLY | O_DIRECTORY).fd));
    BOOST_TEST(bool(open("dir_link/", O_RDONLY | O_DIRECTORY).fd));
    BOOST_TEST(open("file.txt", O_RDONLY | O_DIRECTORY).err == ENOTDIR);
}

BOOST_FIXTURE_TEST_CASE(every_way_out_is_exdev, tree)
{
    const std::string absolute_inside = root.string() + "/file.txt";
    for (const char* p : {"..", "../outside.txt", "dir/../../outside.txt", "rel_out", "abs_out", "abs_in",
                          "/etc/passwd", absolute_inside.c_str()}) {
        const auto r = open(p);
        BOOST_TEST_INFO(p);
        BOOST_TEST(!r.fd);
        BOOST_TEST(r.err == EXDEV);
    }
}

BOOST_FIXTURE_TEST_CASE(a_link_swapped_in_for_a_directory_is_refused, tree)
{
    fs::rename(root / "dir", base / "moved_out");
    fs::create_symlink((base / "moved_out").string(), root / "dir");
    const auto r = open("dir/", O_RDONLY | O_DIRECTORY);
    BOOST_TEST(!r.fd);
    BOOST_TEST(r.err == EXDEV);
    BOOST_TEST(open("dir/inner.txt").err == EXDEV);
}

BOOST_AUTO_TEST_CASE(magic_links_are_refused)
{
    // /proc/self/fd/N jumps to whatever the descriptor is: never followed, even beneath.
    net::unique_fd proc(::open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC));
    BOOST_REQUIRE(proc);
    net::unique_fd target(::open("/etc/hostname", O_RDONLY | O_CLOEXEC));
    BOOST_REQUIRE(target);
    const std::string link = "fd/" + std::to_string(target.get());
    const auto r = net::open_beneath(proc.get(), link.c_str(), O_RDONLY);
    BOOST_TEST(!r.fd);
    BOOST_TEST((r.err == ELOOP || r.err == EXDEV));
}

BOOST_FIXTURE_TEST_CASE(a_fifo_opens_without_blocking, tree)
{
    BOOST_REQUIRE(::mkfifo((root / "fifo").c_str(), 0600) == 0);
    const auto r = open("fifo"); // O_NONBLOCK: no writer needed
    BOOST_TEST(bool(r.fd));
    BOOST_TEST((::fcntl(r.fd.get(), F_GETFD) & FD_CLOEXEC) != 0);
}

BOOST_AUTO_TEST_SUITE_END()
