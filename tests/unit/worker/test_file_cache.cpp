// The open-file cache against a real temporary tree: revalidation, capacity, running out of
// descriptors, and confinement of what an entry lets a request reach.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/unit/temp_root.hpp"
#include "worker/file_cache.hpp"

using namespace ringfork;
using namespace ringfork::worker;
namespace fs = std::filesystem;

namespace {

/// "f7" (or "file 7" with another prefix): appended, since GCC 12 warns about "f" + string.
std::string numbered(std::string prefix, int i)
{
    prefix += std::to_string(i);
    return prefix;
}

/// root/f0..f19 ("file N") and root/dir/.
struct tree : test::temp_root {
    tree()
    {
        fs::create_directories(root / "dir");
        for (int i = 0; i < 20; ++i)
            write(numbered("f", i), numbered("file ", i));
    }

    static std::string read(const open_file& f)
    {
        std::string s(f.size, '\0');
        const ssize_t n = ::pread(f.fd.get(), s.data(), s.size(), 0);
        return n == static_cast<ssize_t>(s.size()) ? s : "<short read>";
    }
};

/// Holds every free descriptor below a lowered RLIMIT_NOFILE; gives them back and restores
/// the limit when it goes away.
struct descriptors_exhausted {
    rlimit saved{};
    std::vector<int> held;

    descriptors_exhausted()
    {
        BOOST_REQUIRE(getrlimit(RLIMIT_NOFILE, &saved) == 0);
        rlimit low = saved;
        low.rlim_cur = std::min<rlim_t>(saved.rlim_cur, 512);
        BOOST_REQUIRE(setrlimit(RLIMIT_NOFILE, &low) == 0);
        for (int i = 0; i < 512; ++i) {
            const int fd = ::dup(0);
            if (fd < 0) {
                BOOST_REQUIRE(errno == EMFILE);
                break;
            }
            held.push_back(fd);
        }
        BOOST_REQUIRE(::dup(0) < 0);
    }
    ~descriptors_exhausted()
    {
        for (int fd : held)
            ::close(fd);
        setrlimit(RLIMIT_NOFILE, &saved);
    }
};

} // namespace

BOOST_AUTO_TEST_SUITE(file_cache_suite)

BOOST_FIXTURE_TEST_CASE(out_of_descriptors_drops_idle_entries_and_retries, tree)
{
    file_cache cache(root_fd.get(), 8);
    std::shared_ptr<open_file> streaming; // as a body being sent holds its file
    for (int i = 0; i < 8; ++i) {
        auto r = cache.open(numbered("f", i), 0);
        BOOST_REQUIRE(r.what == file_cache::status::ok);
        if (i == 0)
            streaming = r.file;
    }
    BOOST_TEST(cache.size() == 8u);
    descriptors_exhausted full;

    // A new file: idle entries go, the open is tried again and succeeds.
    auto fresh = cache.open("f10", 0);
    BOOST_REQUIRE(fresh.what == file_cache::status::ok);
    BOOST_TEST(read(*fresh.file) == "file 10");
    BOOST_TEST(cache.size() < 8u);

    // The entry a stream holds was not dropped, and revalidating it (a second later) needs a
    // descriptor too: it gets one the same way and stays the same entry.
    auto again = cache.open("f0", 2000);
    BOOST_REQUIRE(again.what == file_cache::status::ok);
    BOOST_TEST(again.file == streaming);
    BOOST_TEST(read(*again.file) == "file 0");
}

BOOST_FIXTURE_TEST_CASE(out_of_descriptors_with_nothing_idle_is_busy, tree)
{
    file_cache cache(root_fd.get(), 4);
    std::vector<std::shared_ptr<open_file>> streaming;
    for (int i = 0; i < 4; ++i)
        streaming.push_back(cache.open(numbered("f", i), 0).file);
    descriptors_exhausted full;
    const auto r = cache.open("f10", 0);
    BOOST_TEST(int(r.what) == int(file_cache::status::busy));
    BOOST_TEST(r.err == EMFILE);
    BOOST_TEST(cache.size() == 4u); // nothing in use was dropped
    BOOST_TEST(int(cache.open("f1", 0).what) == int(file_cache::status::ok)); // cached: no descriptor needed
    BOOST_TEST(!cache.open_directory("dir").fd);
}

BOOST_FIXTURE_TEST_CASE(capacity_bounds_the_descriptors_kept, tree)
{
    file_cache cache(root_fd.get(), 5);
    for (int i = 0; i < 20; ++i)
        BOOST_REQUIRE(cache.open(numbered("f", i), 0).what == file_cache::status::ok);
    BOOST_TEST(cache.size() == 5u);

    file_cache none(root_fd.get(), 0); // no room at all: every file is opened, served, closed
    auto r = none.open("f3", 0);
    BOOST_REQUIRE(r.what == file_cache::status::ok);
    BOOST_TEST(read(*r.file) == "file 3");
    BOOST_TEST(none.size() == 0u);
}

BOOST_FIXTURE_TEST_CASE(directories_keep_no_descriptor, tree)
{
    file_cache cache(root_fd.get(), 5);
    auto r = cache.open("dir/", 0);
    BOOST_REQUIRE(r.what == file_cache::status::ok);
    BOOST_TEST(r.file->directory);
    BOOST_TEST(!r.file->fd);
    BOOST_TEST(bool(cache.open_directory("dir").fd));
}

// ---- revalidation: an entry is trusted for a second after its check, then checked again ----

BOOST_FIXTURE_TEST_CASE(a_changed_file_is_seen_after_the_revalidation_second, tree)
{
    file_cache cache(root_fd.get(), 16);
    const auto first = cache.open("f1", 0).file;
    BOOST_REQUIRE(first);
    const std::string etag = first->etag;
    write("f1", "file 1, longer now");
    BOOST_TEST(cache.open("f1", 999).file == first); // inside the second: not looked at
    const auto second = cache.open("f1", 1000).file;
    BOOST_REQUIRE(second);
    BOOST_TEST(second != first);
    BOOST_TEST(second->size == 18u);
    BOOST_TEST(second->etag != etag);
    BOOST_TEST(read(*second) == "file 1, longer now");
}

BOOST_FIXTURE_TEST_CASE(an_unchanged_file_keeps_its_entry_and_bytes, tree)
{
    file_cache cache(root_fd.get(), 16);
    const auto first = cache.open("f2", 0).file;
    first->content = "file 2";
    first->content_loaded = true;
    const auto again = cache.open("f2", 5000).file;
    BOOST_TEST(again == first);
    BOOST_TEST(again->checked_ms == 5000u);
    BOOST_TEST(again->content_loaded);
}

BOOST_FIXTURE_TEST_CASE(a_removed_file_is_gone_after_the_second, tree)
{
    file_cache cache(root_fd.get(), 16);
    BOOST_REQUIRE(cache.open("f3", 0).what == file_cache::status::ok);
    fs::remove(root / "f3");
    BOOST_TEST(int(cache.open("f3", 1000).what) == int(file_cache::status::not_found));
    BOOST_TEST(cache.size() == 0u);
}

// ---- confinement: what a cached entry may still lead to after its name changes ----

BOOST_FIXTURE_TEST_CASE(a_file_swapped_for_a_link_out_never_leads_out, tree)
{
    file_cache cache(root_fd.get(), 16);
    const auto before = cache.open("f4", 0).file;
    fs::rename(root / "f4", base / "f4-moved");
    fs::create_symlink(base / "outside.txt", root / "f4");
    // Inside the second the entry is the file the name led to when checked; its bytes are
    // that file's, never the link's target.
    const auto inside = cache.open("f4", 500);
    BOOST_REQUIRE(inside.what == file_cache::status::ok);
    BOOST_TEST(read(*inside.file) == "file 4");
    // At the next check the link is refused and the entry dropped.
    const auto after = cache.open("f4", 1000);
    BOOST_TEST(int(after.what) == int(file_cache::status::not_found));
    BOOST_TEST(after.err == EXDEV);
    BOOST_TEST(int(cache.open("f4", 1001).what) == int(file_cache::status::not_found));
}

BOOST_FIXTURE_TEST_CASE(a_directory_swapped_for_a_link_out_is_never_listed, tree)
{
    file_cache cache(root_fd.get(), 16);
    BOOST_REQUIRE(cache.open("dir/", 0).file->directory);
    fs::rename(root / "dir", base / "dir-moved");
    fs::create_symlink(base, root / "dir");
    BOOST_TEST(cache.open("dir/", 500).file->directory); // still the word of the last check...
    const auto listing = cache.open_directory("dir/");   // ...but a listing asks again
    BOOST_TEST(!listing.fd);
    BOOST_TEST(listing.err == EXDEV);
    BOOST_TEST(int(cache.open("dir/outside.txt", 500).what) == int(file_cache::status::not_found));
    BOOST_TEST(int(cache.open("dir/", 1000).what) == int(file_cache::status::not_found));
}

BOOST_FIXTURE_TEST_CASE(special_files_and_errors_classify, tree)
{
    file_cache cache(root_fd.get(), 16);
    BOOST_REQUIRE(::mkfifo((root / "fifo").c_str(), 0600) == 0);
    BOOST_TEST(int(cache.open("fifo", 0).what) == int(file_cache::status::forbidden));
    BOOST_TEST(int(cache.open("missing", 0).what) == int(file_cache::status::not_found));
    BOOST_TEST(int(cache.open("f1/x", 0).what) == int(file_cache::status::not_found)); // ENOTDIR
    BOOST_TEST(int(cache.open("../outside.txt", 0).what) == int(file_cache::status::not_found));
    BOOST_TEST(int(file_cache::classify(EACCES)) == int(file_cache::status::forbidden));
    BOOST_TEST(int(file_cache::classify(ENFILE)) == int(file_cache::status::busy));
    BOOST_TEST(int(file_cache::classify(EIO)) == int(file_cache::status::error));
    BOOST_TEST(cache.open("", 0).file->directory); // the root itself
}

BOOST_FIXTURE_TEST_CASE(siblings_come_and_go_with_revalidation, tree)
{
    constexpr std::uint64_t t0 = 10'000; // the loop's clock: milliseconds since boot
    file_cache cache(root_fd.get(), 16);
    write("app.js", "js");
    write("app.js.gz", "gz");
    auto f = cache.open("app.js", t0).file;
    cache.refresh_siblings(*f, "app.js", t0);
    BOOST_REQUIRE(f->gz);
    BOOST_TEST(read(*f->gz) == "gz");
    BOOST_TEST(!f->br);
    fs::remove(root / "app.js.gz");
    write("app.js.br", "br");
    cache.refresh_siblings(*f, "app.js", t0 + 999);
    BOOST_TEST(bool(f->gz)); // not looked at inside the second
    BOOST_TEST(!f->br);
    cache.refresh_siblings(*f, "app.js", t0 + 1000);
    BOOST_TEST(!f->gz);
    BOOST_REQUIRE(f->br);
    BOOST_TEST(read(*f->br) == "br");
}

BOOST_AUTO_TEST_SUITE_END()
