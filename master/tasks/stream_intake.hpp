// The stream intake: the master's listening Unix socket that workers' loops connect to,
// one connection per job, each starting with a fixed ipc::job_request. Owns accepting and
// reading those headers without blocking; leaves the jobs to the broker. It goes once
// workers submit jobs over their channels.
#pragma once

#include <poll.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "ipc/task_stream.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

class stream_intake {
public:
    /// A complete header and its connection (a synchronous job's body follows on it).
    using on_request = std::function<void(const ipc::job_request&, net::unique_fd)>;

    /// Binds an abstract address unique to this master. False with `error`.
    [[nodiscard]] bool open(std::string& error);
    /// "@name": what workers connect to.
    [[nodiscard]] const std::string& address() const noexcept { return address_; }
    void add_pollfds(std::vector<pollfd>& fds) const;
    /// Accepts, reads headers; hands each complete one to `take`. `polled` is what
    /// add_pollfds added, after poll().
    void handle(std::span<const pollfd> polled, std::uint64_t now_ms, const on_request& take);
    /// Drops connections whose header did not come in time; returns the next such deadline (0: none).
    std::uint64_t expire(std::uint64_t now_ms);
    /// Stops accepting (pending headers are dropped).
    void close();

private:
    struct pending {
        net::unique_fd fd;
        std::uint64_t deadline_ms = 0;
        std::size_t got = 0;
        ipc::job_request head{};
    };
    void read_head(pending& p, const on_request& take);

    net::unique_fd listener_;
    std::string address_;
    std::vector<pending> pending_;
};

} // namespace ringfork::master
