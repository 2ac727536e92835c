// io_uring owners: the ring itself and a provided-buffer ring, plus the one kernel probe.
// Owns set-up, feature detection and teardown; leaves the loop and op encoding to the worker.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>

namespace ringfork::net {

/// What this kernel offers, detected once at start and logged in one line.
struct ring_features {
    bool defer_taskrun = false;   ///< SINGLE_ISSUER|DEFER_TASKRUN accepted (else COOP_TASKRUN).
    bool ext_arg = false;         ///< Waits with a timeout without an SQE.
    bool recv_multishot = false;  ///< IORING_RECV_MULTISHOT with provided buffers.
    bool accept_multishot = false;
    bool buf_ring = false;        ///< io_uring_register_buf_ring.

    /// "defer_taskrun=1 ext_arg=1 ..." for the start-up log line.
    [[nodiscard]] std::string describe() const;
};

/// One io_uring instance, created in the process that uses it (never before fork).
class ring {
public:
    /// Sets up a ring with `entries` SQEs, preferring SINGLE_ISSUER|DEFER_TASKRUN and
    /// falling back to COOP_TASKRUN on EINVAL. Empty ring and `error` set on failure.
    [[nodiscard]] static ring create(unsigned entries, std::string& error);

    ring() = default;
    ring(ring&& other) noexcept;
    ring& operator=(ring&& other) noexcept;
    ring(const ring&) = delete;
    ring& operator=(const ring&) = delete;
    ~ring();

    [[nodiscard]] io_uring* get() noexcept { return ring_.get(); }
    [[nodiscard]] const ring_features& features() const noexcept { return features_; }
    explicit operator bool() const noexcept { return static_cast<bool>(ring_); }

    /// A free SQE; submits pending ones first if the queue is full. Never null.
    [[nodiscard]] io_uring_sqe* sqe() noexcept;

private:
    std::unique_ptr<io_uring> ring_;
    ring_features features_;
};

/// A ring of `count` provided buffers of `size` bytes each, registered as group `group`.
/// Buffer ids are indices; memory is one anonymous mapping touched only as it is used.
class buffer_ring {
public:
    [[nodiscard]] static buffer_ring create(ring& r, std::uint16_t group, unsigned count, unsigned size,
                                            std::string& error);

    buffer_ring() = default;
    buffer_ring(buffer_ring&& other) noexcept;
    buffer_ring& operator=(buffer_ring&& other) noexcept;
    buffer_ring(const buffer_ring&) = delete;
    buffer_ring& operator=(const buffer_ring&) = delete;
    ~buffer_ring();

    [[nodiscard]] char* data(std::uint16_t bid) const noexcept { return base_ + std::size_t(bid) * size_; }
    [[nodiscard]] unsigned size() const noexcept { return size_; }
    [[nodiscard]] std::uint16_t group() const noexcept { return group_; }

    /// Hands buffer `bid` back to the kernel; becomes visible at the next publish().
    void recycle(std::uint16_t bid) noexcept;
    /// Makes every recycled buffer visible to the kernel in one store.
    void publish() noexcept;

private:
    void release() noexcept;

    io_uring* ring_ = nullptr;
    io_uring_buf_ring* br_ = nullptr;
    char* base_ = nullptr;
    std::size_t map_bytes_ = 0;
    unsigned count_ = 0;
    unsigned size_ = 0;
    int pending_ = 0;
    std::uint16_t group_ = 0;
};

} // namespace ringfork::net
