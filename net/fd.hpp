// Move-only owner of a file descriptor.
// Owns closing exactly once; leaves what the descriptor is to its factory.
#pragma once

#include <unistd.h>

#include <utility>

namespace ringfork::net {

/// One open file descriptor, closed when the owner dies.
class unique_fd {
public:
    unique_fd() noexcept = default;
    explicit unique_fd(int fd) noexcept : fd_(fd) {}
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept;
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    /// The descriptor, or -1.
    [[nodiscard]] int get() const noexcept { return fd_; }
    /// Gives up ownership without closing.
    [[nodiscard]] int release() noexcept { return std::exchange(fd_, -1); }
    /// Closes the current descriptor, if any, and takes `fd`.
    void reset(int fd = -1) noexcept;
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

inline unique_fd& unique_fd::operator=(unique_fd&& other) noexcept
{
    if (this != &other)
        reset(other.release());
    return *this;
}

inline void unique_fd::reset(int fd) noexcept
{
    if (fd_ >= 0)
        ::close(fd_);
    fd_ = fd;
}

} // namespace ringfork::net
