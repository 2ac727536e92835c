// Open-file cache for static serving: files opened beneath the root by net::open_beneath,
// kept open with their stat and validators, revalidated at most once a second, small
// files' bytes kept in memory after their first read. Owns descriptors and validators;
// leaves HTTP semantics to the static handler.
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

/// One open regular file or directory beneath the root.
struct open_file {
    net::unique_fd fd;
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

class file_cache {
public:
    enum class status : std::uint8_t { ok, not_found, forbidden, error };
    struct result {
        status what = status::not_found;
        std::shared_ptr<open_file> file;
        int err = 0; ///< errno for status::error.
    };

    static constexpr std::uint64_t small_max = 64 * 1024;
    static constexpr std::uint64_t revalidate_ms = 1000;

    /// `root_fd` is an O_PATH/O_DIRECTORY descriptor the cache does not own.
    file_cache(int root_fd, std::size_t max_entries = 4096) : root_fd_(root_fd), max_entries_(max_entries) {}

    /// The file at `relative` (no leading '/', "" for the root itself), opened or revalidated.
    [[nodiscard]] result open(std::string_view relative, std::uint64_t now_ms);

    /// The directory at `relative` opened afresh for reading its entries, never from or into
    /// the cache: a listing shows what the name leads to now, beneath the root.
    [[nodiscard]] net::beneath_result open_directory(std::string_view relative) const;

    /// What an errno from the confined open means for a request.
    [[nodiscard]] static status classify(int err) noexcept;

    /// Refreshes `f`'s .br / .gz siblings when their last check is older than a second.
    void refresh_siblings(open_file& f, std::string_view relative, std::uint64_t now_ms);

private:
    [[nodiscard]] result open_fresh(std::string_view relative, std::uint64_t now_ms);

    int root_fd_;
    std::size_t max_entries_;
    std::unordered_map<std::string, std::shared_ptr<open_file>> entries_;
};

} // namespace ringfork::worker
