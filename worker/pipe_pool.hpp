// Pipes for splicing file bodies to sockets: a file's pages go into a pipe by reference and
// from the pipe into the socket, so a large body is never copied through the worker.
// Owns the pipes and a bounded pool of empty ones; leaves the splicing to the loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "net/fd.hpp"

namespace ringfork::worker {

/// Both ends of one pipe, non-blocking, and how many bytes it can hold.
struct pipe_pair {
    net::unique_fd read_end;
    net::unique_fd write_end;
    std::uint32_t capacity = 0;

    [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(read_end); }
};

class pipe_pool {
public:
    /// `window`: the capacity asked for each pipe (the kernel may grant less); `keep`: how
    /// many empty pipes are kept for reuse; `least`: a smaller pipe is not worth splicing
    /// through (past the user's pipe quota the kernel hands out 8 KiB pipes).
    pipe_pool(std::size_t window, std::size_t keep, std::size_t least = 64 * 1024) noexcept
        : window_(window), keep_(keep), least_(least)
    {
    }

    /// An empty pipe from the pool or a new one of at least `least` bytes; invalid when
    /// none can be had (descriptor limit, pipe quota): the caller reads the file instead.
    [[nodiscard]] pipe_pair acquire();
    /// Returns `p`; it is kept only if nothing is left in it and the pool has room.
    void release(pipe_pair p) noexcept;

    [[nodiscard]] std::size_t idle() const noexcept { return idle_.size(); }

private:
    std::size_t window_;
    std::size_t keep_;
    std::size_t least_;
    std::vector<pipe_pair> idle_;
};

} // namespace ringfork::worker
