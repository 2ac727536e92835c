// Per-worker services: anything with ring ops of its own that are not a client
// connection's, such as a pool of upstream connections kept between requests or a queue
// other threads post completions to. Owns nothing; a service registers with the loop once
// and gets every completion tagged with its id, so adding one never touches the loop's
// dispatch.
#pragma once

#include <liburing.h>

#include <cstdint>

#include "ipc/messages.hpp"
#include "worker/ops.hpp"

namespace ringfork::worker {

class ring_service {
public:
    virtual ~ring_service() = default;
    /// A completion of an op prepared with service_user_data(id, index, generation).
    virtual void on_completion(const user_data& u, const io_uring_cqe& cqe) = 0;
    /// End of every loop turn (timers, housekeeping); the default does nothing.
    virtual void tick() {}
    /// Milliseconds until the service needs tick() again, or -1 for no need.
    [[nodiscard]] virtual long next_wait_ms() const noexcept { return -1; }
    /// A message from the master that the loop does not act on itself (upstream_set); the
    /// default ignores it.
    virtual void on_master_message(const ipc::message&) {}
};

/// The user_data of an op of service `id` on its object `index` of life `generation`.
[[nodiscard]] constexpr std::uint64_t service_user_data(std::uint8_t id, std::uint32_t index,
                                                        std::uint32_t generation = 0) noexcept
{
    return ud(op::service, index, generation, id);
}

} // namespace ringfork::worker
