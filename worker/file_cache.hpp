// Open-file cache for static serving: files opened beneath the root by net::open_beneath,
// kept open with their stat and validators, revalidated at most once a second, small
// files' bytes kept in memory after their first read, as many as the descriptor budget
// allows. Owns descriptors and validators; leaves HTTP semantics to the static handler.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "net/fd.hpp"
#include "net/open_beneath.hpp"

namespace ringfork::worker {

/// One open regular file, or a directory's stat, beneath the root.
struct open_file {
    net::unique_fd fd;           ///< Invalid for a directory (its entries are listed afresh).
    bool directory = false;
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::time_t mtime_s = 0;
    dev_t dev = 0;
    ino_t ino = 0;
    std::string etag;            ///< Strong validator from size and mtime.
    char last_modified[29] = {}; ///< IMF-fixdate of mtime_s.
    std::string content;         ///< Whole file, once read, when size <= small_max.
    bool content_loaded = false;
    std::uint64_t checked_ms = 0;
    // Precompressed siblings ("name.br", "name.gz"), looked up at most once a second.
    std::shared_ptr<open_file> br;
    std::shared_ptr<open_file> gz;
    std::uint64_t siblings_checked_ms = 0;
};

/// Entries are bounded by `capacity`, the descriptors the cache may keep (see
/// descriptor_budget); a directory's entry keeps its stat but no descriptor. When the
/// process is out of descriptors (EMFILE, ENFILE), entries nobody is streaming from are
/// dropped and the open is tried once more.
class file_cache {
public:
    /// busy: out of descriptors even after dropping idle entries (503).
    enum class status : std::uint8_t { ok, not_found, forbidden, busy, error };
    struct result {
        status what = status::not_found;
        std::shared_ptr<open_file> file;
        int err = 0; ///< errno for status::busy and status::error.
    };

    static constexpr std::uint64_t small_max = 64 * 1024;
    static constexpr std::uint64_t revalidate_ms = 1000;

    /// `root_fd` is an O_PATH/O_DIRECTORY descriptor the cache does not own.
    file_cache(int root_fd, std::size_t capacity) : root_fd_(root_fd), capacity_(capacity) {}

    /// The file at `relative` (no leading '/', "" for the root itself), opened or revalidated.
    [[nodiscard]] result open(std::string_view relative, std::uint64_t now_ms);

    /// The directory at `relative` opened afresh for reading its entries, never from or into
    /// the cache: a listing shows what the name leads to now, beneath the root.
    [[nodiscard]] net::beneath_result open_directory(std::string_view relative);

    /// What an errno from the confined open means for a request.
    [[nodiscard]] static status classify(int err) noexcept;

    /// Refreshes `f`'s .br / .gz siblings when their last check is older than a second.
    void refresh_siblings(open_file& f, std::string_view relative, std::uint64_t now_ms);

    /// Entries held (each with at most one descriptor).
    [[nodiscard]] std::size_t size() const noexcept { return entries_.size(); }
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

private:
    /// Opens and stats `relative`; `revalidating` is the entry being checked, kept even if
    /// descriptors run out.
    [[nodiscard]] result open_fresh(std::string_view relative, std::uint64_t now_ms, const open_file* revalidating);
    /// net::open_beneath, tried again once after drop_idle() when out of descriptors.
    [[nodiscard]] net::beneath_result open_confined(const char* path, int flags, const open_file* keep);
    /// Drops up to a quarter of the entries (at least one) that hold a descriptor nobody
    /// else uses, never `keep`; returns how many.
    std::size_t drop_idle(const open_file* keep);

    int root_fd_;
    std::size_t capacity_;
    std::unordered_map<std::string, std::shared_ptr<open_file>> entries_;
};

} // namespace ringfork::worker
