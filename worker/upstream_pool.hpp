// The worker's connections to its upstreams: per address, idle keep-alive connections
// watched for the upstream's close, fresh sockets for requests, which address a request
// goes to, the address sets the master changes at run time, and the per-upstream counters.
// Owns every upstream socket not in use by a request (a request's is owned by its lease);
// leaves a request's own I/O (connect, send, receive, timeouts) to the proxy source.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "ipc/messages.hpp"
#include "ipc/stats.hpp"
#include "ipc/upstream_config.hpp"
#include "net/fd.hpp"
#include "net/ring.hpp"
#include "worker/service.hpp"
#include "worker/upstream_balancer.hpp"
#include "worker/worker_env.hpp"

namespace ringfork::worker {

/// A connection in use by one request, until released to the pool. The pool's record of
/// the connection owns the socket for its whole life; the lease names it.
struct upstream_lease {
    int fd = -1;
    std::uint32_t record = 0;
    std::uint16_t upstream = 0;
    int endpoint = upstream_balancer::none; ///< The address's slot; none: no lease.
    bool reused = false;                    ///< Came from the idle pool (it may have been closed meanwhile).
    sockaddr_storage addr{};                ///< Where to connect: a copy, stable while the connect runs.
    socklen_t addr_len = 0;

    [[nodiscard]] explicit operator bool() const noexcept { return endpoint != upstream_balancer::none; }
};

class upstream_pool final : public ring_service {
public:
    static constexpr std::uint32_t idle_per_address_max = 64; ///< Idle connections kept per address.
    static constexpr std::uint64_t idle_keep_ms = 30'000;      ///< An idle connection unused this long closes.
    static constexpr std::size_t spare_max = 256;              ///< Buffers kept for reuse.

    /// Why no connection was given.
    enum class refusal : std::uint8_t { none, no_address, capacity, socket };

    /// Made before the loop, so that it outlives every connection's proxy source (their
    /// leases come back here when the loop's connections go); attach() before serving.
    explicit upstream_pool(const ipc::proxy_settings& settings);

    /// The loop's ring and shared state, and the id the loop gave this service.
    void attach(net::ring& ring, worker_env& env, std::uint8_t id) noexcept;
    /// Where upstream_drained reports go (the master link).
    void set_reporter(std::function<void(ipc::message&)> send) { report_ = std::move(send); }

    /// A connection for one request to `upstream`, on the address with the fewest requests
    /// in flight outside `tried`: an idle one (lease.reused), or a fresh socket the caller
    /// connects (unless `fresh` is asked for, an idle one is preferred). The address counts
    /// the request as in flight until release().
    [[nodiscard]] refusal acquire(std::uint16_t upstream, upstream_balancer::tried_set tried, bool fresh,
                                  upstream_lease& out);
    /// The request on `lease` ended; what `h` says feeds passive health. With `keep`, the
    /// connection goes back to the pool if its address is current and there is room;
    /// otherwise it is closed. The lease is empty afterwards.
    void release(upstream_lease& lease, bool keep, upstream_balancer::health h);
    /// Counts one failed attempt and logs it once: "upstream NAME ADDR: WHAT".
    void failed(const upstream_lease& lease, ipc::upstream_failure why, std::string_view what);
    /// The same for a request that got no address at all: "upstream NAME: WHAT".
    void failed(std::uint16_t upstream, ipc::upstream_failure why, std::string_view what);

    [[nodiscard]] const ipc::upstream_timeouts& timeouts(std::uint16_t upstream) const noexcept;
    [[nodiscard]] std::string_view name(std::uint16_t upstream) const noexcept;
    /// The lease's address as written in the configuration.
    [[nodiscard]] std::string_view address(const upstream_lease& lease) const noexcept;
    [[nodiscard]] ipc::upstream_stats& stats(std::uint16_t upstream) noexcept;
    /// Connections open now: leased, idle and closing.
    [[nodiscard]] std::uint32_t open_count() const noexcept { return open_; }
    [[nodiscard]] const upstream_balancer& balancer(std::uint16_t upstream) const noexcept;

    /// An empty buffer, reusing a block given back earlier: the proxy sources' request and
    /// response buffers come from here, so the steady path allocates none.
    [[nodiscard]] net::byte_buffer take_buffer() noexcept;
    /// Keeps `b`'s block for reuse (at most spare_max blocks of at most 64 KiB).
    void give_buffer(net::byte_buffer&& b) noexcept;

    /// The master's new address set for `upstream`: new requests go only there; idle
    /// connections to addresses no longer in it close; each removed address is reported
    /// (upstream_drained) once nothing is in flight to it.
    void set_addresses(std::uint32_t upstream, std::span<const ipc::upstream_address> addresses);

    // ring_service
    void on_completion(const user_data& u, const io_uring_cqe& cqe) override;
    void tick() override;
    [[nodiscard]] long next_wait_ms() const noexcept override;
    void on_master_message(const ipc::message& m) override;

private:
    /// One upstream connection, from its socket to its close. While it is idle a watch (a
    /// poll that reads nothing) notices the upstream's close, an error or stray bytes at
    /// once; taking it for a request does not cancel the watch.
    struct conn {
        enum class state : std::uint8_t { free, leased, idle, closing };
        net::unique_fd fd;
        std::uint16_t upstream = 0;
        int endpoint = upstream_balancer::none;
        std::uint32_t generation = 0;       ///< Moves on with every request it serves, and when freed.
        std::uint32_t watch_generation = 0; ///< The generation its watch was armed with.
        std::uint64_t since_ms = 0; ///< Idle since.
        state st = state::free;
        bool watched = false;       ///< The watch is armed.
        bool dead = false;          ///< The upstream closed it or it erred: never used again.
    };
    struct upstream_entry {
        const ipc::upstream_settings* settings = nullptr;
        upstream_balancer balancer;
        std::vector<std::vector<std::uint32_t>> idle; ///< Per address slot: idle records, newest last.
        std::vector<int> counted{};   ///< Per address slot: its entry in stats' by_address, or -1.
        std::uint64_t log_second = 0; ///< Failure lines are counted per second...
        unsigned logged = 0;
        unsigned suppressed = 0;      ///< ...and those past the limit summed up.
    };

    /// A new record for a leased connection on `fd`.
    [[nodiscard]] std::uint32_t open_record(net::unique_fd fd, std::uint16_t upstream, int endpoint);
    void park(upstream_lease& lease);
    /// Arms connection `index`'s watch.
    void watch(std::uint32_t index);
    /// Closes connection `index` (idle or just released): at once, or once its watch has
    /// completed after being cancelled (so no op outlives the socket).
    void close_conn(std::uint32_t index);
    void free_record(std::uint32_t index);
    /// Takes idle record `index` off its address's idle list.
    void unlist_idle(std::uint32_t index);
    /// Closes the oldest idle connection of any address, to make room; false if none.
    bool close_oldest_idle();
    void report_drained(std::uint16_t upstream);
    /// Counts a request to address `slot` of `upstream` in the snapshot's by_address.
    void count_request(std::uint16_t upstream, int slot);
    /// The by_address entry for `text` of `upstream`: its own, a free one, or one whose
    /// address no slot holds any more; -1 when every entry is in use.
    [[nodiscard]] int address_entry(std::uint16_t upstream, std::string_view text);
    [[nodiscard]] bool log_allowed(upstream_entry& u);
    void flush_suppressed(upstream_entry& u);

    net::ring* ring_ = nullptr;
    worker_env* env_ = nullptr;
    std::vector<upstream_entry> ups_;
    std::vector<conn> conns_;            ///< Every open connection; free records are reused.
    std::vector<std::uint32_t> free_conns_;
    std::function<void(ipc::message&)> report_;
    std::vector<net::byte_buffer> spare_;
    std::uint32_t open_ = 0;
    std::uint64_t next_sweep_ms_ = 0;
    std::uint8_t id_ = 0;
};

} // namespace ringfork::worker
