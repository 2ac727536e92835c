// Open-file cache for static serving.
#include "worker/file_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "net/http_response.hpp"
#include "worker/static_rules.hpp"

namespace ringfork::worker {

file_cache::status file_cache::classify(int err) noexcept
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case EXDEV:  // a symlink or ".." leading out of the root
    case ELOOP:  // a magic link, or a loop
    case ENAMETOOLONG:
        return status::not_found;
    case EACCES:
    case EPERM:
        return status::forbidden;
    case EMFILE:
    case ENFILE:
        return status::busy;
    default:
        return status::error;
    }
}

std::size_t file_cache::drop_idle(const open_file* keep)
{
    const std::size_t most = std::max<std::size_t>(1, entries_.size() / 4);
    std::size_t dropped = 0;
    for (auto it = entries_.begin(); it != entries_.end() && dropped < most;) {
        const auto& f = it->second;
        // use_count 1: no stream and no other entry's sibling link holds it, so erasing closes it.
        if (f.use_count() == 1 && f->fd && f.get() != keep) {
            it = entries_.erase(it);
            ++dropped;
        } else {
            ++it;
        }
    }
    return dropped;
}

net::beneath_result file_cache::open_confined(const char* path, int flags, const open_file* keep)
{
    net::beneath_result r = net::open_beneath(root_fd_, path, flags);
    if (!r.fd && (r.err == EMFILE || r.err == ENFILE) && drop_idle(keep) > 0)
        r = net::open_beneath(root_fd_, path, flags);
    return r;
}

net::beneath_result file_cache::open_directory(std::string_view relative)
{
    const std::string path = relative.empty() ? std::string(".") : std::string(relative);
    return open_confined(path.c_str(), O_RDONLY | O_DIRECTORY, nullptr);
}

file_cache::result file_cache::open_fresh(std::string_view relative, std::uint64_t now_ms,
                                          const open_file* revalidating)
{
    const std::string path = relative.empty() ? std::string(".") : std::string(relative);
    net::beneath_result opened = open_confined(path.c_str(), O_RDONLY, revalidating);
    net::unique_fd fd = std::move(opened.fd);
    if (!fd)
        return {classify(opened.err), nullptr, opened.err};
    struct stat st{};
    if (fstat(fd.get(), &st) != 0)
        return {status::error, nullptr, errno};
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return {status::forbidden, nullptr, 0}; // devices, sockets, FIFOs are never served
    auto f = std::make_shared<open_file>();
    f->directory = S_ISDIR(st.st_mode);
    if (!f->directory)
        f->fd = std::move(fd); // a directory's descriptor is never read: it goes back now
    f->size = static_cast<std::uint64_t>(st.st_size);
    f->mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    f->mtime_s = st.st_mtim.tv_sec;
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    f->etag = static_rules::make_etag(f->size, f->mtime_ns);
    http::format_http_date(f->mtime_s, f->last_modified);
    f->checked_ms = now_ms;
    return {status::ok, std::move(f), 0};
}

file_cache::result file_cache::open(std::string_view relative, std::uint64_t now_ms)
{
    auto it = entries_.find(std::string(relative));
    if (it != entries_.end() && now_ms - it->second->checked_ms < revalidate_ms)
        return {status::ok, it->second, 0};
    result fresh = open_fresh(relative, now_ms, it != entries_.end() ? it->second.get() : nullptr);
    if (fresh.what != status::ok) {
        if (it != entries_.end())
            entries_.erase(it); // not confirmed: never served from again
        return fresh;
    }
    if (it != entries_.end()) {
        open_file& old = *it->second;
        const open_file& now = *fresh.file;
        if (old.dev == now.dev && old.ino == now.ino && old.size == now.size && old.mtime_ns == now.mtime_ns) {
            old.checked_ms = now_ms; // unchanged: keep the open descriptor and cached bytes
            return {status::ok, it->second, 0};
        }
        it->second = fresh.file; // changed: readers of the old one keep their descriptor
        return fresh;
    }
    if (capacity_ == 0)
        return fresh; // served, then closed once its body is sent
    if (entries_.size() >= capacity_)
        entries_.erase(entries_.begin()); // bounded: drop one entry, any
    entries_.emplace(std::string(relative), fresh.file);
    return fresh;
}

void file_cache::refresh_siblings(open_file& f, std::string_view relative, std::uint64_t now_ms)
{
    if (f.siblings_checked_ms != 0 && now_ms - f.siblings_checked_ms < revalidate_ms)
        return;
    f.siblings_checked_ms = now_ms;
    auto sibling = [&](std::string_view suffix) -> std::shared_ptr<open_file> {
        std::string name(relative);
        name += suffix;
        result r = open(name, now_ms);
        return r.what == status::ok && !r.file->directory ? r.file : nullptr;
    };
    f.br = sibling(".br");
    f.gz = sibling(".gz");
}

} // namespace ringfork::worker
