// The worker's loop as code on other threads sees it: hand a function back to the loop
// that owns a responder or a body writer, safely from any thread.
#pragma once

#include "ringfork/function.hpp"

#include <functional>
#include <memory>

namespace ringfork {

namespace detail {
class post_queue;
} // namespace detail

/// A handle to one worker's loop. Copyable, usable from any thread.
class loop_ref {
public:
    loop_ref() noexcept = default;
    explicit loop_ref(std::shared_ptr<detail::post_queue> q) noexcept : q_(std::move(q)) {}

    /// Runs `fn` on that loop's thread soon, in posting order. False (and `fn` dropped on
    /// the calling thread) when the loop has stopped.
    bool post(unique_function<void()> fn) const;
    /// Refers to a loop.
    explicit operator bool() const noexcept { return static_cast<bool>(q_); }

private:
    std::shared_ptr<detail::post_queue> q_;
};

/// The loop of the calling thread when it is a worker's loop thread; empty elsewhere.
[[nodiscard]] loop_ref current_loop();

} // namespace ringfork
