// A move-only function wrapper: what ringfork keeps of a callback that may capture a
// responder, a body writer or anything else that cannot be copied.
#pragma once

#include <memory>
#include <type_traits>
#include <utility>

namespace ringfork {

template <typename Signature> class unique_function;

template <typename R, typename... Args> class unique_function<R(Args...)> {
public:
    unique_function() noexcept = default;
    unique_function(std::nullptr_t) noexcept {}
    template <typename F,
              typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, unique_function> &&
                                          std::is_invocable_r_v<R, std::decay_t<F>&, Args...>>>
    unique_function(F&& f) : p_(std::make_unique<model<std::decay_t<F>>>(std::forward<F>(f)))
    {
    }

    /// Calls the wrapped function; it must not be empty.
    R operator()(Args... args) { return p_->call(std::forward<Args>(args)...); }
    explicit operator bool() const noexcept { return static_cast<bool>(p_); }

private:
    struct concept_ {
        virtual ~concept_() = default;
        virtual R call(Args... args) = 0;
    };
    template <typename F> struct model final : concept_ {
        template <typename G> explicit model(G&& g) : f(std::forward<G>(g)) {}
        R call(Args... args) override { return f(std::forward<Args>(args)...); }
        F f;
    };

    std::unique_ptr<concept_> p_;
};

} // namespace ringfork
