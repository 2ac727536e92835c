// The task spool.
#include "ipc/spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::ipc {

namespace {

/// Deeper trees under a job's directory are left for the operator (and logged).
constexpr int max_tree_depth = 64;
/// A state temp file this old was left by a writer that died.
constexpr std::time_t stale_temp_s = 60;

constexpr std::string_view extension(spool::file f) noexcept
{
    switch (f) {
    case spool::file::state: return ".state";
    case spool::file::out: return ".out";
    case spool::file::err: return ".err";
    case spool::file::in: return ".in";
    case spool::file::run: return ".run";
    case spool::file::res: return ".res";
    }
    return ".?";
}

/// Checks an opened directory: owned by `uid`, no access for group or others.
bool check_dir(int fd, const std::string& what, uid_t uid, std::string& error)
{
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
        error = net::sys_error("fstat", what, errno);
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        error = fmt::format("spool {}: not a directory", what);
        return false;
    }
    if (st.st_uid != uid) {
        error = fmt::format("spool {}: owned by uid {}, not by uid {} that the server's children run as; "
                            "remove it or choose another --task-spool",
                            what, st.st_uid, uid);
        return false;
    }
    if ((st.st_mode & 077) != 0) {
        error = fmt::format("spool {}: mode {:04o} lets other users in (want 0700); remove it or choose another "
                            "--task-spool",
                            what, st.st_mode & 07777);
        return false;
    }
    return true;
}

/// Opens `name` under `parent` as a directory, never through a link; `created` when this
/// call made it.
net::unique_fd open_dir(int parent, const char* name, bool create, bool& created, int& err)
{
    created = false;
    for (int attempt = 0; attempt < 2; ++attempt) {
        net::unique_fd fd(::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (fd)
            return fd;
        err = errno;
        if (err != ENOENT || !create)
            return {};
        if (::mkdirat(parent, name, 0700) == 0)
            created = true;
        else if (errno != EEXIST) {
            err = errno;
            return {};
        }
    }
    return {};
}

std::string describe_open_error(int parent, const char* name, const std::string& what, int err)
{
    // O_NOFOLLOW|O_DIRECTORY on a link fails with ENOTDIR or ELOOP: say which it is.
    struct stat st{};
    if ((err == ENOTDIR || err == ELOOP) && ::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
        if (S_ISLNK(st.st_mode))
            return fmt::format("spool {}: is a symbolic link; refusing it (give the real directory)", what);
        return fmt::format("spool {}: not a directory", what);
    }
    return net::sys_error("open", fmt::format("spool {}", what), err);
}

bool remove_tree_at(int parent, const char* name, int depth) noexcept
{
    if (::unlinkat(parent, name, 0) == 0 || errno == ENOENT)
        return true;
    if (errno != EISDIR && errno != EPERM)
        return false;
    if (depth >= max_tree_depth) {
        net::log::warn("spool: a tree deeper than {} directories left in place at {}", max_tree_depth, name);
        return false;
    }
    // Never through a link: a name swapped for one since the unlinkat fails here.
    const int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return ::unlinkat(parent, name, 0) == 0 || errno == ENOENT;
    DIR* d = ::fdopendir(fd);
    if (d == nullptr) {
        ::close(fd);
        return false;
    }
    bool all = true;
    while (const dirent* e = ::readdir(d)) {
        const std::string_view n = e->d_name;
        if (n != "." && n != "..")
            all = remove_tree_at(::dirfd(d), e->d_name, depth + 1) && all;
    }
    ::closedir(d);
    return ::unlinkat(parent, name, AT_REMOVEDIR) == 0 || (all && errno == ENOENT);
}

/// Calls fn(name, stat) for each entry of the directory `fd` (not "." or ".."), without
/// following links.
template <typename F> void for_each_entry(int fd, F&& fn)
{
    const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (copy < 0)
        return;
    DIR* d = ::fdopendir(copy);
    if (d == nullptr) {
        ::close(copy);
        return;
    }
    ::rewinddir(d);
    while (const dirent* e = ::readdir(d)) {
        const std::string_view n = e->d_name;
        if (n == "." || n == "..")
            continue;
        struct stat st{};
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            fn(n, st);
    }
    ::closedir(d);
}

/// The job id a spool entry belongs to and whether it is a state temp file; nullopt for
/// names that are not a job's.
struct entry_name {
    std::string_view id;
    bool state = false;
    bool temp = false;
};

std::optional<entry_name> parse_entry(std::string_view name)
{
    if (name.size() <= job_id_len || name[job_id_len] != '.' || !valid_job_id(name.substr(0, job_id_len)))
        return std::nullopt;
    const std::string_view ext = name.substr(job_id_len);
    entry_name e{name.substr(0, job_id_len)};
    if (ext == ".state")
        e.state = true;
    else if (ext.starts_with(".state.") && ext.size() == 7 + 16)
        e.temp = true;
    else if (ext != ".out" && ext != ".err" && ext != ".in" && ext != ".res" && ext != ".run")
        return std::nullopt;
    return e;
}

} // namespace

std::string_view state_name(job_state s) noexcept
{
    switch (s) {
    case job_state::queued: return "queued";
    case job_state::running: return "running";
    case job_state::done: return "done";
    case job_state::failed: return "failed";
    case job_state::timed_out: return "timed_out";
    case job_state::cancelled: return "cancelled";
    }
    return "unknown";
}

job_state state_after(job_outcome o) noexcept
{
    switch (o) {
    case job_outcome::ok: return job_state::done;
    case job_outcome::timed_out: return job_state::timed_out;
    case job_outcome::cancelled: return job_state::cancelled;
    case job_outcome::failed:
    case job_outcome::crashed:
    case job_outcome::rejected: break;
    }
    return job_state::failed;
}

std::optional<spool> spool::open(const std::string& path, spool_owner owner, std::string& error)
{
    return open_checked(path, owner, true, error);
}

std::optional<spool> spool::attach(const std::string& path, spool_owner owner, std::string& error)
{
    return open_checked(path, owner, false, error);
}

std::optional<spool> spool::open_checked(const std::string& path, spool_owner owner, bool create, std::string& error)
{
    if (path.empty()) {
        error = "spool: no directory given";
        return std::nullopt;
    }
    bool created = false;
    int err = 0;
    net::unique_fd dir = open_dir(AT_FDCWD, path.c_str(), create, created, err);
    if (!dir) {
        error = describe_open_error(AT_FDCWD, path.c_str(), path, err);
        return std::nullopt;
    }
    spool s(path, std::move(dir), {}, owner);
    if (created)
        s.give(s.dir_.get());
    if (!check_dir(s.dir_.get(), path, owner.uid, error))
        return std::nullopt;
    const std::string tmp_path = path + "/tmp";
    net::unique_fd tmp = open_dir(s.dir_.get(), "tmp", create, created, err);
    if (!tmp) {
        error = describe_open_error(s.dir_.get(), "tmp", tmp_path, err);
        return std::nullopt;
    }
    if (created)
        s.give(tmp.get());
    if (!check_dir(tmp.get(), tmp_path, owner.uid, error))
        return std::nullopt;
    s.tmp_ = std::move(tmp);
    return s;
}

void spool::give(int fd) const noexcept
{
    if (::geteuid() == 0 && owner_.uid != 0 && ::fchown(fd, owner_.uid, owner_.gid) != 0)
        net::log::warn("{}", net::sys_error("fchown", fmt::format("spool {} to uid {}", path_, owner_.uid), errno));
}

std::string spool::name(std::string_view id, file f)
{
    std::string n(id);
    n += extension(f);
    return n;
}

net::unique_fd spool::open_read(std::string_view id, file f, int& err) const
{
    err = 0;
    const std::string n = name(id, f);
    // O_NONBLOCK: a FIFO planted under the name must not block the open.
    net::unique_fd fd(::openat(dir_.get(), n.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
        err = errno;
        return {};
    }
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        err = EINVAL;
        return {};
    }
    // Back to blocking: io_uring reads of an O_NONBLOCK file may answer EAGAIN.
    (void)::fcntl(fd.get(), F_SETFL, 0);
    return fd;
}

net::unique_fd spool::create(std::string_view id, file f, int& err) const
{
    err = 0;
    const std::string n = name(id, f);
    if (::unlinkat(dir_.get(), n.c_str(), 0) != 0 && errno != ENOENT) {
        err = errno;
        return {};
    }
    net::unique_fd fd(::openat(dir_.get(), n.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd) {
        err = errno;
        return {};
    }
    give(fd.get());
    return fd;
}

std::string spool::write_input(std::string_view id, std::string_view bytes) const
{
    int err = 0;
    const net::unique_fd fd = create(id, file::in, err);
    while (fd && !bytes.empty()) {
        const ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    if (fd && bytes.empty())
        return {};
    remove(id, file::in);
    // A short write (or a failed one) of a fresh file: the spool is out of space.
    return net::sys_error("write", name(id, file::in), fd ? ENOSPC : err);
}

int spool::write_state(std::string_view id, const job_state_record& r) const
{
    const std::string final_name = name(id, file::state);
    for (int attempt = 0; attempt < 4; ++attempt) {
        const std::string temp = final_name + "." + random_hex(8);
        net::unique_fd fd(
            ::openat(dir_.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
        if (!fd) {
            if (errno == EEXIST)
                continue; // something holds that name: another random one
            return -errno;
        }
        const ssize_t w = ::write(fd.get(), &r, sizeof r);
        const int werr = w < 0 ? errno : ENOSPC; // a short write of a fresh small file: out of space
        if (w != static_cast<ssize_t>(sizeof r)) {
            ::unlinkat(dir_.get(), temp.c_str(), 0);
            return -werr;
        }
        give(fd.get());
        fd.reset();
        if (::renameat(dir_.get(), temp.c_str(), dir_.get(), final_name.c_str()) != 0) {
            const int rerr = errno;
            ::unlinkat(dir_.get(), temp.c_str(), 0);
            return -rerr;
        }
        return 0;
    }
    return -EEXIST;
}

std::optional<job_state_record> spool::read_state(std::string_view id) const
{
    int err = 0;
    const net::unique_fd fd = open_read(id, file::state, err);
    if (!fd)
        return std::nullopt;
    job_state_record r;
    if (::pread(fd.get(), &r, sizeof r, 0) != static_cast<ssize_t>(sizeof r) || r.magic != state_magic ||
        r.version != state_version || r.state < job_state::queued || r.state > job_state::cancelled)
        return std::nullopt;
    return r;
}

void spool::remove(std::string_view id, file f) const noexcept
{
    const std::string n = name(id, f);
    if (::unlinkat(dir_.get(), n.c_str(), 0) != 0 && errno != ENOENT)
        net::log::warn("{}", net::sys_error("unlink", fmt::format("{}/{}", path_, n), errno));
}

void spool::remove_job(std::string_view id) const noexcept
{
    for (const file f : {file::out, file::err, file::in, file::run, file::res, file::state})
        remove(id, f);
}

std::optional<spool::job_dir> spool::make_job_dir(std::string_view id, int& err) const
{
    err = 0;
    for (int attempt = 0; attempt < 4; ++attempt) {
        job_dir d;
        d.name = fmt::format("{}-{}", id, random_hex(8));
        if (::mkdirat(tmp_.get(), d.name.c_str(), 0700) != 0) {
            err = errno;
            if (err == EEXIST)
                continue;
            return std::nullopt;
        }
        d.fd.reset(::openat(tmp_.get(), d.name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!d.fd) {
            err = errno;
            remove_job_dir(d.name);
            return std::nullopt;
        }
        give(d.fd.get());
        d.path = fmt::format("{}/tmp/{}", path_, d.name);
        return d;
    }
    return std::nullopt;
}

bool spool::remove_job_dir(std::string_view dir_name) const noexcept
{
    const std::string n(dir_name);
    return remove_tree_at(tmp_.get(), n.c_str(), 0);
}

spool::sweep_result spool::sweep(const sweep_rules& rules, const std::function<bool(std::string_view)>& live) const
{
    struct job_files {
        std::time_t newest = 0;
        std::int64_t newest_ns = 0; ///< For ordering: jobs often end within one second.
        std::uint64_t bytes = 0;
        bool has_state = false;
    };
    std::map<std::string, job_files, std::less<>> jobs;
    std::vector<std::string> stale_temps;
    for_each_entry(dir_.get(), [&](std::string_view n, const struct stat& st) {
        const auto e = parse_entry(n);
        if (!e)
            return; // not a job's: never ours to remove
        if (e->temp) {
            if (st.st_mtime + stale_temp_s < rules.now)
                stale_temps.emplace_back(n);
            return;
        }
        job_files& j = jobs[std::string(e->id)];
        j.newest = std::max(j.newest, st.st_mtime);
        j.newest_ns = std::max(j.newest_ns, std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec);
        j.bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
        j.has_state = j.has_state || (e->state && S_ISREG(st.st_mode));
    });
    for (const std::string& t : stale_temps)
        (void)::unlinkat(dir_.get(), t.c_str(), 0);

    sweep_result out;
    struct candidate {
        std::int64_t newest;
        std::string id;
        std::uint64_t bytes;
    };
    std::vector<candidate> removable; // ended (or orphaned) jobs, not live here
    for (const auto& [id, j] : jobs) {
        out.bytes += j.bytes;
        if (live(id))
            continue;
        const auto state = j.has_state ? read_state(id) : std::nullopt;
        const bool old = j.newest + static_cast<std::time_t>(rules.ttl_s) <= rules.now;
        // A job neither ended nor live here is another server's (an upgrade shares the
        // spool) or was left by one that died: it goes only once it is as old as the TTL.
        // Files without a state record are an intake's marker or leftovers: the same.
        const bool finished = state && ended(state->state);
        if (old) {
            remove_job(id);
            out.bytes -= j.bytes;
            ++out.jobs_removed;
        } else if (finished) {
            removable.push_back({j.newest_ns, id, j.bytes});
        }
    }
    if (rules.max_bytes != 0 && out.bytes > rules.max_bytes) {
        std::sort(removable.begin(), removable.end(),
                  [](const candidate& a, const candidate& b) { return a.newest != b.newest ? a.newest < b.newest : a.id < b.id; });
        for (const candidate& c : removable) {
            if (out.bytes <= rules.max_bytes)
                break;
            remove_job(c.id);
            out.bytes -= c.bytes;
            ++out.jobs_removed;
        }
    }

    // Working directories: a job that has ended has no use for its own any more; one whose
    // state is gone or never came (its server died) goes at the TTL.
    std::vector<std::string> dirs;
    for_each_entry(tmp_.get(), [&](std::string_view n, const struct stat& st) {
        const bool old = st.st_mtime + static_cast<std::time_t>(rules.ttl_s) <= rules.now;
        const std::string_view id = n.substr(0, std::min(n.size(), job_id_len));
        if (n.size() <= job_id_len || n[job_id_len] != '-' || !valid_job_id(id)) {
            if (old)
                dirs.emplace_back(n);
            return;
        }
        if (live(id))
            return;
        const auto state = read_state(id);
        if (old || (state && ended(state->state)))
            dirs.emplace_back(n);
    });
    for (const std::string& d : dirs)
        if (remove_job_dir(d))
            ++out.dirs_removed;
    return out;
}

} // namespace ringfork::ipc
