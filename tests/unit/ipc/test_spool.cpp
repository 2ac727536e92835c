// The task spool: what it refuses to open, never following a planted link, the atomic state
// record, job directories, and the sweep by age and by size.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "ipc/spool.hpp"

using namespace ringfork;
using namespace ringfork::ipc;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view id_a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr std::string_view id_b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
constexpr std::string_view id_c = "cccccccccccccccccccccccccccccccc";

struct temp_dir {
    std::string path;
    temp_dir()
    {
        char tmpl[] = "/tmp/rf-spool-test-XXXXXX";
        BOOST_REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~temp_dir() { fs::remove_all(path); } // never follows links
    [[nodiscard]] std::string operator/(std::string_view name) const { return path + "/" + std::string(name); }
};

spool_owner me() { return {::geteuid(), ::getegid()}; }

void write_file(const std::string& path, std::string_view text) { std::ofstream(path, std::ios::binary) << text; }

std::string read_file(const std::string& path)
{
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

bool exists(const std::string& path)
{
    struct stat st{};
    return ::lstat(path.c_str(), &st) == 0;
}

/// Moves a file's modification time `age_s` seconds into the past (links themselves).
void age(const std::string& path, int age_s)
{
    const timespec t[2] = {{std::time(nullptr) - age_s, 0}, {std::time(nullptr) - age_s, 0}};
    BOOST_REQUIRE(::utimensat(AT_FDCWD, path.c_str(), t, AT_SYMLINK_NOFOLLOW) == 0);
}

spool open_spool(const std::string& path)
{
    std::string error;
    auto s = spool::open(path, me(), error);
    BOOST_REQUIRE_MESSAGE(s, error);
    return std::move(*s);
}

/// Plants t/spool/<id_a>.out as a symbolic link to t/`name`, a file holding `text`;
/// returns the link's path.
std::string plant_out_link(const temp_dir& t, std::string_view name, std::string_view text)
{
    const std::string target = t / name;
    write_file(target, text);
    const std::string out = t / ("spool/" + std::string(id_a) + ".out");
    BOOST_REQUIRE(::symlink(target.c_str(), out.c_str()) == 0);
    return out;
}

/// t/outside, a directory beside the spool holding a file "keep", for links out of it.
std::string make_outside(const temp_dir& t)
{
    const std::string outside = t / "outside";
    BOOST_REQUIRE(::mkdir(outside.c_str(), 0700) == 0);
    write_file(outside + "/keep", "keep");
    return outside;
}

job_state_record state_of(job_state st, std::string_view task = "t")
{
    job_state_record r;
    r.state = st;
    set_text(r.task, task);
    return r;
}

std::set<std::string> names(const std::string& dir)
{
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir))
        out.insert(e.path().filename().string());
    return out;
}

} // namespace

BOOST_AUTO_TEST_SUITE(spool_suite)

BOOST_AUTO_TEST_CASE(a_missing_spool_is_created_private)
{
    temp_dir t;
    const std::string dir = t / "spool";
    std::string error;
    BOOST_TEST(!spool::attach(dir, me(), error)); // attach creates nothing
    BOOST_TEST(!exists(dir));
    const spool s = open_spool(dir);
    struct stat st{};
    BOOST_REQUIRE(::lstat(dir.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0700u);
    BOOST_REQUIRE(::lstat((dir + "/tmp").c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 07777) == 0700u);
    BOOST_TEST(spool::attach(dir, me(), error).has_value());
    BOOST_TEST(open_spool(dir).path() == dir); // opening again accepts what it made
}

BOOST_AUTO_TEST_CASE(a_spool_someone_else_could_touch_is_refused)
{
    temp_dir t;
    std::string error;
    const std::string open_dir = t / "open";
    BOOST_REQUIRE(::mkdir(open_dir.c_str(), 0700) == 0);
    BOOST_REQUIRE(::chmod(open_dir.c_str(), 0777) == 0);
    BOOST_TEST(!spool::open(open_dir, me(), error));
    BOOST_TEST(error.find("0777") != std::string::npos, error);
    BOOST_REQUIRE(::chmod(open_dir.c_str(), 0750) == 0);
    BOOST_TEST(!spool::open(open_dir, me(), error));

    const std::string real = t / "real";
    BOOST_REQUIRE(::mkdir(real.c_str(), 0700) == 0);
    const std::string link = t / "link";
    BOOST_REQUIRE(::symlink(real.c_str(), link.c_str()) == 0);
    BOOST_TEST(!spool::open(link, me(), error));
    BOOST_TEST(error.find("symbolic link") != std::string::npos, error);

    const std::string plain = t / "plain";
    write_file(plain, "x");
    BOOST_TEST(!spool::open(plain, me(), error));
    BOOST_TEST(error.find("not a directory") != std::string::npos, error);

    // Another owner: the spool must belong to the identity the children run as.
    BOOST_TEST(!spool::open(real, {me().uid + 1, me().gid}, error));
    BOOST_TEST(error.find("owned by uid") != std::string::npos, error);

    // tmp/ gets the same checks: a link there is refused, never entered.
    const std::string elsewhere = t / "elsewhere";
    BOOST_REQUIRE(::mkdir(elsewhere.c_str(), 0700) == 0);
    BOOST_REQUIRE(::symlink(elsewhere.c_str(), (real + "/tmp").c_str()) == 0);
    BOOST_TEST(!spool::open(real, me(), error));
    BOOST_TEST(error.find("tmp") != std::string::npos, error);
    BOOST_TEST(names(elsewhere).empty());
}

BOOST_AUTO_TEST_CASE(as_root_a_new_spool_is_given_to_the_owner)
{
    if (::geteuid() != 0) {
        BOOST_TEST_MESSAGE("skipped: needs root to chown");
        return;
    }
    temp_dir t;
    const std::string dir = t / "spool";
    std::string error;
    const spool_owner nobody{65534, 65534};
    auto s = spool::open(dir, nobody, error);
    BOOST_REQUIRE_MESSAGE(s, error);
    struct stat st{};
    BOOST_REQUIRE(::lstat(dir.c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 65534u);
    int err = 0;
    const auto fd = s->create(id_a, spool::file::out, err);
    BOOST_REQUIRE(fd);
    BOOST_REQUIRE(::fstat(fd.get(), &st) == 0);
    BOOST_TEST(st.st_uid == 65534u);
    BOOST_TEST(s->write_state(id_a, state_of(job_state::queued)) == 0);
    BOOST_REQUIRE(::lstat((dir + "/" + std::string(id_a) + ".state").c_str(), &st) == 0);
    BOOST_TEST(st.st_uid == 65534u);
    // Owned by root instead: refused for children running as nobody.
    const std::string mine = t / "mine";
    BOOST_REQUIRE(::mkdir(mine.c_str(), 0700) == 0);
    BOOST_TEST(!spool::open(mine, nobody, error));
}

BOOST_AUTO_TEST_CASE(reads_never_follow_a_planted_name)
{
    temp_dir t;
    const spool s = open_spool(t / "spool");
    plant_out_link(t, "secret", "root-only");
    int err = 0;
    BOOST_TEST(!s.open_read(id_a, spool::file::out, err));
    BOOST_TEST(err == ELOOP);

    // A FIFO under the name: refused at once, not a blocked open.
    const std::string fifo = t / ("spool/" + std::string(id_b) + ".out");
    BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    BOOST_TEST(!s.open_read(id_b, spool::file::out, err));
    BOOST_TEST(err == EINVAL);

    write_file(t / ("spool/" + std::string(id_c) + ".out"), "fine");
    const auto fd = s.open_read(id_c, spool::file::out, err);
    BOOST_REQUIRE(fd);
    BOOST_TEST((::fcntl(fd.get(), F_GETFL) & O_NONBLOCK) == 0);
    char buf[8] = {};
    BOOST_TEST(::read(fd.get(), buf, sizeof buf) == 4);
    BOOST_TEST(!s.open_read("dddddddddddddddddddddddddddddddd", spool::file::out, err));
    BOOST_TEST(err == ENOENT);
}

BOOST_AUTO_TEST_CASE(create_replaces_a_planted_link_without_writing_through_it)
{
    temp_dir t;
    const spool s = open_spool(t / "spool");
    const std::string target = t / "target";
    const std::string out = plant_out_link(t, "target", "untouched");
    int err = 0;
    const auto fd = s.create(id_a, spool::file::out, err);
    BOOST_REQUIRE(fd);
    BOOST_TEST(::write(fd.get(), "new", 3) == 3);
    BOOST_TEST(read_file(target) == "untouched");
    BOOST_TEST(read_file(out) == "new");
    struct stat st{};
    BOOST_REQUIRE(::lstat(out.c_str(), &st) == 0);
    BOOST_TEST(S_ISREG(st.st_mode));
    BOOST_TEST((st.st_mode & 0777) == 0600u);
}

BOOST_AUTO_TEST_CASE(an_input_is_written_whole_or_not_at_all)
{
    temp_dir t;
    const spool s = open_spool(t / "spool");
    const std::string big(3 << 20, 'x'); // more than one write may take
    BOOST_TEST(s.write_input(id_a, big) == "");
    BOOST_TEST(read_file(t / ("spool/" + std::string(id_a) + ".in")) == big);
    // A name that cannot be replaced (a directory planted there): the error names the
    // file and the errno, and what was planted is left as it was.
    const std::string planted = t / ("spool/" + std::string(id_b) + ".in");
    BOOST_REQUIRE(::mkdir(planted.c_str(), 0700) == 0);
    BOOST_TEST(s.write_input(id_b, "x") == "write " + std::string(id_b) + ".in: " + std::strerror(EISDIR));
    BOOST_TEST(fs::is_directory(planted));
}

BOOST_AUTO_TEST_CASE(state_records_are_replaced_whole)
{
    temp_dir t;
    const spool s = open_spool(t / "spool");
    BOOST_TEST(!s.read_state(id_a));
    job_state_record r = state_of(job_state::running, "render");
    r.runner_pid = 1234;
    set_text(r.progress, "40%");
    BOOST_TEST(s.write_state(id_a, r) == 0);
    auto got = s.read_state(id_a);
    BOOST_REQUIRE(got);
    BOOST_TEST(int(got->state) == int(job_state::running));
    BOOST_TEST(text_of(got->task) == "render");
    BOOST_TEST(text_of(got->progress) == "40%");
    r.state = job_state::done;
    r.output_bytes = 99;
    BOOST_TEST(s.write_state(id_a, r) == 0);
    got = s.read_state(id_a);
    BOOST_REQUIRE(got);
    BOOST_TEST(int(got->state) == int(job_state::done));
    BOOST_TEST(got->output_bytes == 99u);
    // Only the record itself is left: no temp file.
    BOOST_TEST((names(t / "spool") == std::set<std::string>{"tmp", std::string(id_a) + ".state"}));

    // Garbage, a short file or a link under the name read as no state.
    write_file(t / ("spool/" + std::string(id_b) + ".state"), "short");
    BOOST_TEST(!s.read_state(id_b));
    BOOST_REQUIRE(::symlink((t / ("spool/" + std::string(id_a) + ".state")).c_str(),
                            (t / ("spool/" + std::string(id_c) + ".state")).c_str()) == 0);
    BOOST_TEST(!s.read_state(id_c));
    // Writing over a planted link replaces the link, never its target.
    BOOST_TEST(s.write_state(id_c, state_of(job_state::queued)) == 0);
    BOOST_TEST(int(s.read_state(id_a)->state) == int(job_state::done));
    BOOST_TEST(int(s.read_state(id_c)->state) == int(job_state::queued));

    s.remove_job(id_a);
    BOOST_TEST(!s.read_state(id_a));
    BOOST_TEST(state_name(job_state::timed_out) == "timed_out");
    BOOST_TEST(int(state_after(job_outcome::crashed)) == int(job_state::failed));
    BOOST_TEST(int(state_after(job_outcome::ok)) == int(job_state::done));
}

BOOST_AUTO_TEST_CASE(job_directories_are_removed_without_following_links)
{
    temp_dir t;
    const spool s = open_spool(t / "spool");
    const std::string outside = make_outside(t);
    int err = 0;
    auto d = s.make_job_dir(id_a, err);
    BOOST_REQUIRE(d);
    BOOST_TEST(d->name.starts_with(std::string(id_a) + "-"));
    BOOST_TEST(d->path == t / ("spool/tmp/" + d->name));
    // What a job might leave: files, nested directories, links out of the spool.
    BOOST_REQUIRE(::mkdirat(d->fd.get(), "sub", 0700) == 0);
    write_file(d->path + "/sub/file", "x");
    BOOST_REQUIRE(::symlink(outside.c_str(), (d->path + "/sub/out-link").c_str()) == 0);
    BOOST_REQUIRE(::symlink((outside + "/keep").c_str(), (d->path + "/file-link").c_str()) == 0);
    BOOST_TEST(s.remove_job_dir(d->name));
    BOOST_TEST(!exists(d->path));
    BOOST_TEST(read_file(outside + "/keep") == "keep");

    // The job directory itself swapped for a link: only the link goes.
    auto e = s.make_job_dir(id_b, err);
    BOOST_REQUIRE(e);
    BOOST_REQUIRE(::rmdir(e->path.c_str()) == 0);
    BOOST_REQUIRE(::symlink(outside.c_str(), e->path.c_str()) == 0);
    BOOST_TEST(s.remove_job_dir(e->name));
    BOOST_TEST(!exists(e->path));
    BOOST_TEST(names(outside) == std::set<std::string>{"keep"});
}

BOOST_AUTO_TEST_CASE(a_tmp_swapped_after_opening_is_never_entered)
{
    temp_dir t;
    const spool s = open_spool(t / "spool");
    const std::string elsewhere = t / "elsewhere";
    BOOST_REQUIRE(::mkdir(elsewhere.c_str(), 0700) == 0);
    BOOST_REQUIRE(::rename((t / "spool/tmp").c_str(), (t / "spool/tmp.old").c_str()) == 0);
    BOOST_REQUIRE(::symlink(elsewhere.c_str(), (t / "spool/tmp").c_str()) == 0);
    int err = 0;
    auto d = s.make_job_dir(id_a, err);
    BOOST_REQUIRE(d);
    BOOST_TEST(exists(t / ("spool/tmp.old/" + d->name)));
    BOOST_TEST(names(elsewhere).empty());
}

BOOST_AUTO_TEST_CASE(sweep_by_age_keeps_live_and_young_jobs)
{
    temp_dir t;
    const spool s = open_spool(t / "spool");
    const std::string dir = t / "spool";
    // a: ended two hours ago; b: ended just now; c: ended long ago but live here (its
    // answer is still being read); d: running, not live here (another server's), recent.
    const std::string id_d = "dddddddddddddddddddddddddddddddd";
    for (auto id : {id_a, id_b, id_c})
        BOOST_TEST(s.write_state(id, state_of(job_state::done)) == 0);
    BOOST_TEST(s.write_state(id_d, state_of(job_state::running)) == 0);
    for (auto id : {id_a, id_b, id_c, std::string_view(id_d)})
        write_file(dir + "/" + std::string(id) + ".out", "output");
    for (auto id : {id_a, id_c})
        for (auto ext : {".state", ".out"})
            age(dir + "/" + std::string(id) + ext, 7200);
    write_file(dir + "/notes.txt", "not a job's");
    age(dir + "/notes.txt", 7200);
    // Files of an older version, and a marker nobody will ever complete.
    const std::string id_e = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
    write_file(dir + "/" + id_e + ".res", "old");
    write_file(dir + "/" + id_e + ".run", "");
    for (auto ext : {".res", ".run"})
        age(dir + "/" + id_e + ext, 7200);

    const auto r = s.sweep({std::time(nullptr), 3600, 0}, [&](std::string_view id) { return id == id_c; });
    BOOST_TEST(r.jobs_removed == 2u);
    const auto left = names(dir);
    BOOST_TEST(!left.contains(std::string(id_a) + ".state"));
    BOOST_TEST(!left.contains(std::string(id_a) + ".out"));
    BOOST_TEST(!left.contains(id_e + ".res"));
    for (auto id : {id_b, id_c, std::string_view(id_d)})
        BOOST_TEST(left.contains(std::string(id) + ".out"), id);
    BOOST_TEST(left.contains("notes.txt"));
}

BOOST_AUTO_TEST_CASE(sweep_by_size_removes_the_oldest_ended_jobs_first)
{
    temp_dir t;
    const spool s = open_spool(t / "spool");
    const std::string dir = t / "spool";
    std::vector<std::string> ids;
    const std::string blob(64 * 1024, 'x');
    for (int i = 0; i < 6; ++i) {
        ids.push_back(std::string(31, 'a') + char('0' + i));
        BOOST_TEST(s.write_state(ids.back(), state_of(i == 0 ? job_state::running : job_state::done)) == 0);
        write_file(dir + "/" + ids.back() + ".out", blob);
        for (auto ext : {".state", ".out"})
            age(dir + "/" + ids.back() + ext, 600 - i * 10); // ids[0] oldest
    }
    // About 6 x 65-68 KiB in use; cap at 250 KiB: ids[1], ids[2], ids[3] go (ids[0] runs:
    // live here, so never touched), ids[4] and ids[5] stay.
    const auto r = s.sweep({std::time(nullptr), 3600, 250 * 1024},
                           [&](std::string_view id) { return id == ids[0]; });
    BOOST_TEST(r.bytes <= 250u * 1024u);
    const auto left = names(dir);
    BOOST_TEST(left.contains(ids[0] + ".out"));
    for (int i = 1; i <= 3; ++i)
        BOOST_TEST(!left.contains(ids[i] + ".out"), i);
    for (int i = 4; i <= 5; ++i)
        BOOST_TEST(left.contains(ids[i] + ".out"), i);
}

BOOST_AUTO_TEST_CASE(sweep_removes_ended_jobs_directories_only)
{
    temp_dir t;
    const spool s = open_spool(t / "spool");
    const std::string outside = make_outside(t);
    int err = 0;
    auto ended_dir = s.make_job_dir(id_a, err);
    auto live_dir = s.make_job_dir(id_b, err);
    auto other_dir = s.make_job_dir(id_c, err); // another server's running job
    BOOST_REQUIRE(ended_dir && live_dir && other_dir);
    BOOST_REQUIRE(::symlink(outside.c_str(), (ended_dir->path + "/link").c_str()) == 0);
    BOOST_TEST(s.write_state(id_a, state_of(job_state::failed)) == 0);
    BOOST_TEST(s.write_state(id_b, state_of(job_state::running)) == 0);
    BOOST_TEST(s.write_state(id_c, state_of(job_state::running)) == 0);
    // Something planted in tmp/ long ago: a link, removed as a link.
    BOOST_REQUIRE(::symlink(outside.c_str(), (t / "spool/tmp/planted").c_str()) == 0);
    age(t / "spool/tmp/planted", 7200);

    const auto r = s.sweep({std::time(nullptr), 3600, 0}, [&](std::string_view id) { return id == id_b; });
    BOOST_TEST(r.dirs_removed == 2u);
    BOOST_TEST(!exists(ended_dir->path));
    BOOST_TEST(exists(live_dir->path));
    BOOST_TEST(exists(other_dir->path));
    BOOST_TEST(!exists(t / "spool/tmp/planted"));
    BOOST_TEST(names(outside) == std::set<std::string>{"keep"});
}

BOOST_AUTO_TEST_SUITE_END()
