// Posting work to a worker's loop from any thread: a mutex-guarded queue and an eventfd
// the loop reads with io_uring, run in posting order on the loop's thread. Owns the queue
// and its eventfd; leaves what the functions do to whoever posted them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/fd.hpp"
#include "ringfork/function.hpp"
#include "net/ring.hpp"
#include "worker/service.hpp"

namespace ringfork::detail {

/// The queue, shared by the loop and every loop_ref to it.
class post_queue {
public:
    /// Makes the queue and its eventfd; null and `error` on failure.
    [[nodiscard]] static std::shared_ptr<post_queue> create(std::string& error);

    /// Queues `fn` and wakes the loop; false once the loop has stopped. Any thread.
    bool post(ringfork::unique_function<void()> fn);
    /// Everything queued, in order (the loop's thread).
    [[nodiscard]] std::vector<ringfork::unique_function<void()>> take();
    /// The loop stops: later posts are refused.
    void close() noexcept;
    [[nodiscard]] int event_fd() const noexcept { return efd_.get(); }

private:
    std::mutex m_;
    std::vector<ringfork::unique_function<void()>> items_;
    net::unique_fd efd_;
    bool closed_ = false;
};

} // namespace ringfork::detail

namespace ringfork::worker {

/// The loop's side: a read of the eventfd kept armed; each completion runs what was posted.
class post_service final : public ring_service {
public:
    explicit post_service(std::shared_ptr<detail::post_queue> q) noexcept : q_(std::move(q)) {}
    ~post_service() override;

    /// Arms the first read; `id` is the service's tag from loop::add_service.
    void start(net::ring& ring, std::uint8_t id);
    void on_completion(const user_data& u, const io_uring_cqe& cqe) override;
    [[nodiscard]] const std::shared_ptr<detail::post_queue>& queue() const noexcept { return q_; }

private:
    void arm();

    std::shared_ptr<detail::post_queue> q_;
    net::ring* ring_ = nullptr;
    std::uint8_t id_ = 0;
    std::uint64_t counter_ = 0; ///< The eventfd read lands here.
};

} // namespace ringfork::worker
