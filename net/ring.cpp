// io_uring set-up, the kernel feature probe and provided-buffer rings.
// Every kernel difference is decided here, once, so the loop has no #ifdef.
#include "net/ring.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <utility>

#include <fmt/format.h>

#include "net/error.hpp"

namespace ringfork::net {

std::string ring_features::describe() const
{
    return fmt::format("defer_taskrun={} ext_arg={} recv_multishot={} accept_multishot={} buf_ring={}",
                       int(defer_taskrun), int(ext_arg), int(recv_multishot), int(accept_multishot),
                       int(buf_ring));
}

ring ring::create(unsigned entries, std::string& error)
{
    ring r;
    r.ring_ = std::make_unique<io_uring>();
    io_uring_params p{};
    p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
    p.cq_entries = entries * 4;
    int rc = io_uring_queue_init_params(entries, r.ring_.get(), &p);
    if (rc == -EINVAL) {
        p = io_uring_params{};
        p.flags = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_CQSIZE;
        p.cq_entries = entries * 4;
        rc = io_uring_queue_init_params(entries, r.ring_.get(), &p);
    } else if (rc == 0) {
        r.features_.defer_taskrun = true;
    }
    if (rc < 0) {
        error = sys_error("io_uring_queue_init", fmt::format("entries={}", entries), -rc);
        r.ring_.reset();
        return r;
    }
    r.features_.ext_arg = (p.features & IORING_FEAT_EXT_ARG) != 0;
    if (io_uring_probe* probe = io_uring_get_probe_ring(r.ring_.get())) {
        // Multishot accept arrived in 5.19 and multishot recv in 6.0; both sit behind
        // opcodes that existed before, so the probe alone cannot tell. IORING_OP_SOCKET
        // (5.19) and IORING_OP_SEND_ZC (6.0) date them.
        r.features_.accept_multishot = io_uring_opcode_supported(probe, IORING_OP_SOCKET);
        r.features_.recv_multishot = io_uring_opcode_supported(probe, IORING_OP_SEND_ZC);
        r.features_.buf_ring = r.features_.accept_multishot;
        io_uring_free_probe(probe);
    }
    return r;
}

ring::ring(ring&& other) noexcept : ring_(std::move(other.ring_)), features_(other.features_) {}

ring& ring::operator=(ring&& other) noexcept
{
    if (this != &other) {
        if (ring_)
            io_uring_queue_exit(ring_.get());
        ring_ = std::move(other.ring_);
        features_ = other.features_;
    }
    return *this;
}

ring::~ring()
{
    if (ring_)
        io_uring_queue_exit(ring_.get());
}

io_uring_sqe* ring::sqe() noexcept
{
    io_uring_sqe* s = io_uring_get_sqe(ring_.get());
    while (!s) {
        io_uring_submit(ring_.get());
        s = io_uring_get_sqe(ring_.get());
    }
    return s;
}

buffer_ring buffer_ring::create(ring& r, std::uint16_t group, unsigned count, unsigned size, std::string& error)
{
    buffer_ring b;
    const std::size_t ring_bytes = count * sizeof(io_uring_buf);
    b.map_bytes_ = ring_bytes + std::size_t(count) * size;
    void* mem = mmap(nullptr, b.map_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        error = sys_error("mmap", fmt::format("buffer ring {}x{}", count, size), errno);
        return {};
    }
    b.br_ = static_cast<io_uring_buf_ring*>(mem);
    b.base_ = static_cast<char*>(mem) + ring_bytes;
    b.count_ = count;
    b.size_ = size;
    b.group_ = group;
    io_uring_buf_ring_init(b.br_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(b.br_);
    reg.ring_entries = count;
    reg.bgid = group;
    if (int rc = io_uring_register_buf_ring(r.get(), &reg, 0); rc < 0) {
        error = sys_error("io_uring_register_buf_ring", fmt::format("group={}", group), -rc);
        munmap(mem, b.map_bytes_);
        return {};
    }
    b.ring_ = r.get();
    for (unsigned i = 0; i < count; ++i)
        b.recycle(static_cast<std::uint16_t>(i));
    b.publish();
    return b;
}

buffer_ring::buffer_ring(buffer_ring&& other) noexcept
    : ring_(std::exchange(other.ring_, nullptr)), br_(std::exchange(other.br_, nullptr)),
      base_(std::exchange(other.base_, nullptr)), map_bytes_(std::exchange(other.map_bytes_, 0)),
      count_(other.count_), size_(other.size_), pending_(other.pending_), group_(other.group_)
{
}

buffer_ring& buffer_ring::operator=(buffer_ring&& other) noexcept
{
    if (this != &other) {
        release();
        ring_ = std::exchange(other.ring_, nullptr);
        br_ = std::exchange(other.br_, nullptr);
        base_ = std::exchange(other.base_, nullptr);
        map_bytes_ = std::exchange(other.map_bytes_, 0);
        count_ = other.count_;
        size_ = other.size_;
        pending_ = other.pending_;
        group_ = other.group_;
    }
    return *this;
}

buffer_ring::~buffer_ring() { release(); }

void buffer_ring::release() noexcept
{
    if (!br_)
        return;
    if (ring_)
        io_uring_unregister_buf_ring(ring_, group_);
    munmap(br_, map_bytes_);
    br_ = nullptr;
}

void buffer_ring::recycle(std::uint16_t bid) noexcept
{
    io_uring_buf_ring_add(br_, data(bid), size_, bid, io_uring_buf_ring_mask(count_), pending_++);
}

void buffer_ring::publish() noexcept
{
    if (pending_ == 0)
        return;
    io_uring_buf_ring_advance(br_, pending_);
    pending_ = 0;
}

} // namespace ringfork::net
