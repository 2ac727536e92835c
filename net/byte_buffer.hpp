// A growable, move-only byte buffer with a consumed prefix, for per-connection input and output.
// Owns its heap block; leaves pooling and limits to the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>

namespace ringfork::net {

/// Bytes [begin_, end_) of data_ are live; appending grows geometrically. Offsets are 32-bit
/// (a connection's buffers are bounded far below 4 GiB by its limits), so an idle owner
/// costs 24 bytes.
class byte_buffer {
public:
    byte_buffer() noexcept = default;
    byte_buffer(byte_buffer&& o) noexcept
        : data_(std::exchange(o.data_, nullptr)), begin_(std::exchange(o.begin_, 0)),
          end_(std::exchange(o.end_, 0)), cap_(std::exchange(o.cap_, 0))
    {
    }
    byte_buffer& operator=(byte_buffer&& o) noexcept
    {
        if (this != &o) {
            std::free(data_);
            data_ = std::exchange(o.data_, nullptr);
            begin_ = std::exchange(o.begin_, 0);
            end_ = std::exchange(o.end_, 0);
            cap_ = std::exchange(o.cap_, 0);
        }
        return *this;
    }
    byte_buffer(const byte_buffer&) = delete;
    byte_buffer& operator=(const byte_buffer&) = delete;
    ~byte_buffer() { std::free(data_); }

    /// Live bytes.
    [[nodiscard]] char* data() noexcept { return data_ + begin_; }
    [[nodiscard]] const char* data() const noexcept { return data_ + begin_; }
    [[nodiscard]] std::size_t size() const noexcept { return std::size_t(end_ - begin_); }
    [[nodiscard]] bool empty() const noexcept { return end_ == begin_; }
    [[nodiscard]] std::size_t capacity() const noexcept { return cap_; }
    [[nodiscard]] std::span<const char> view() const noexcept { return {data(), size()}; }

    /// Appends bytes, growing as needed.
    void append(const char* p, std::size_t n)
    {
        if (n == 0)
            return; // p may be null for an empty span
        std::memcpy(reserve_tail(n), p, n);
        end_ += static_cast<std::uint32_t>(n);
    }
    void append(std::string_view s) { append(s.data(), s.size()); }

    /// Room for `n` more bytes at the end; commit() what was written.
    [[nodiscard]] char* reserve_tail(std::size_t n)
    {
        if (std::size_t(cap_ - end_) < n)
            grow(n);
        return data_ + end_;
    }
    void commit(std::size_t n) noexcept { end_ += static_cast<std::uint32_t>(n); }

    /// Drops `n` bytes from the front.
    void consume(std::size_t n) noexcept
    {
        begin_ += static_cast<std::uint32_t>(n);
        if (begin_ == end_)
            begin_ = end_ = 0;
    }
    /// Drops everything from `n` on.
    void truncate(std::size_t n) noexcept { end_ = begin_ + static_cast<std::uint32_t>(n); }
    /// Empties the buffer but keeps its block.
    void clear() noexcept { begin_ = end_ = 0; }
    /// Empties the buffer and frees its block, so an idle owner holds no memory.
    void release() noexcept
    {
        std::free(std::exchange(data_, nullptr));
        begin_ = end_ = cap_ = 0;
    }

private:
    void grow(std::size_t n)
    {
        const std::size_t live = size();
        if (begin_ > 0 && cap_ - live >= n && live <= cap_ / 2) {
            std::memmove(data_, data_ + begin_, live); // reuse the consumed prefix
        } else {
            std::size_t want = cap_ ? std::size_t(cap_) * 2 : 512;
            while (want < live + n)
                want *= 2;
            if (want > 0xFFFF'FFFFu)
                std::abort(); // 4 GiB in one connection's buffer: the limits make this impossible
            char* p = static_cast<char*>(std::malloc(want));
            if (!p)
                std::abort(); // out of memory: nothing sensible is left to do
            if (live)
                std::memcpy(p, data_ + begin_, live);
            std::free(data_);
            data_ = p;
            cap_ = static_cast<std::uint32_t>(want);
        }
        begin_ = 0;
        end_ = static_cast<std::uint32_t>(live);
    }

    char* data_ = nullptr;
    std::uint32_t begin_ = 0;
    std::uint32_t end_ = 0;
    std::uint32_t cap_ = 0;
};

} // namespace ringfork::net
