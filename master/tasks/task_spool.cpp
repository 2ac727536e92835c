// The task spool directory.
#include "master/tasks/task_spool.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "net/error.hpp"
#include "net/fd.hpp"
#include "net/log.hpp"

namespace ringfork::master {

namespace {

/// mkdir that accepts an existing directory (but not an existing file of another kind).
bool make_dir(const std::string& path, std::string& error)
{
    if (::mkdir(path.c_str(), 0700) == 0)
        return true;
    const int err = errno;
    struct stat st{};
    if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        return true;
    error = net::sys_error("mkdir", path, err == EEXIST ? ENOTDIR : err);
    return false;
}

int remove_entry(const char* path, const struct stat*, int, FTW*) noexcept
{
    // Keep walking on failure so one stubborn entry does not leave the rest behind.
    if (::remove(path) != 0 && errno != ENOENT)
        net::log::warn("{}", net::sys_error("remove", path, errno));
    return 0;
}

bool has_suffix(std::string_view name, std::string_view suffix)
{
    return name.size() > suffix.size() && name.ends_with(suffix);
}

/// Calls `fn(name, stat)` for every entry of `dir` but "." and "..", without following symlinks.
template <typename F> void for_each_entry(const std::string& dir, F&& fn)
{
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
        if (errno != ENOENT)
            net::log::warn("{}", net::sys_error("opendir", dir, errno));
        return;
    }
    while (const dirent* e = ::readdir(d)) {
        const std::string_view name = e->d_name;
        if (name == "." || name == "..")
            continue;
        struct stat st{};
        if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            fn(name, st);
    }
    ::closedir(d);
}

} // namespace

bool prepare_spool(const std::string& dir, std::string& error)
{
    return make_dir(dir, error) && make_dir(dir + "/tmp", error);
}

bool write_result_file(const std::string& spool, std::string_view id, const ipc::job_result& r,
                       std::string& error)
{
    const std::string final_path = ipc::spool_path(spool, id, ".res");
    const std::string tmp_path = final_path + ".tmp";
    net::unique_fd fd(::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) {
        error = net::sys_error("open", tmp_path, errno);
        return false;
    }
    const ssize_t w = ::write(fd.get(), &r, sizeof r);
    if (w != static_cast<ssize_t>(sizeof r)) {
        error = net::sys_error("write", tmp_path, w < 0 ? errno : EIO);
        ::unlink(tmp_path.c_str());
        return false;
    }
    fd.reset();
    if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
        error = net::sys_error("rename", tmp_path, errno);
        ::unlink(tmp_path.c_str());
        return false;
    }
    return true;
}

bool remove_tree(const std::string& path) noexcept
{
    // nftw takes no context pointer, so the callback only removes and logs.
    ::nftw(path.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return ::access(path.c_str(), F_OK) != 0;
}

std::size_t sweep_spool(const std::string& spool, unsigned ttl_s, std::time_t now)
{
    const std::time_t cutoff = now - static_cast<std::time_t>(ttl_s);
    std::size_t removed = 0;
    for_each_entry(spool, [&](std::string_view name, const struct stat& st) {
        if (!S_ISREG(st.st_mode) || st.st_mtime >= cutoff)
            return;
        if (has_suffix(name, ".out") || has_suffix(name, ".res") || has_suffix(name, ".res.tmp") ||
            has_suffix(name, ".run")) {
            const std::string path = spool + '/' + std::string(name);
            if (::unlink(path.c_str()) == 0)
                ++removed;
            else if (errno != ENOENT)
                net::log::warn("{}", net::sys_error("unlink", path, errno));
        }
    });
    const std::string tmp = spool + "/tmp";
    for_each_entry(tmp, [&](std::string_view name, const struct stat& st) {
        if (S_ISDIR(st.st_mode) && st.st_mtime < cutoff && remove_tree(tmp + '/' + std::string(name)))
            ++removed;
    });
    return removed;
}

} // namespace ringfork::master
