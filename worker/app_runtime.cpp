// The library's state in one worker.
#include "worker/app_runtime.hpp"

#include <fcntl.h>

#include <cerrno>

#include <fmt/format.h>

#include "net/error.hpp"
#include "net/log.hpp"
#include "ringfork/app.hpp"
#include "ringfork/loop.hpp"
#include "worker/loop.hpp"

namespace ringfork::worker {

namespace {

/// The loop of this thread, for ringfork::current_loop().
thread_local std::shared_ptr<detail::post_queue> current_queue;

/// The worker start hook's view: deferred readiness counts down to the ready call.
class start_view final : public ringfork::worker_start {
public:
    start_view(unsigned slot, std::uint32_t generation, std::shared_ptr<unsigned> left,
               std::function<void()> ready) noexcept
        : slot_(slot), generation_(generation), left_(std::move(left)), ready_(std::move(ready))
    {
    }
    [[nodiscard]] unsigned slot() const noexcept override { return slot_; }
    [[nodiscard]] std::uint32_t generation() const noexcept override { return generation_; }
    [[nodiscard]] std::function<void()> defer_ready() override
    {
        ++*left_;
        return [left = left_, ready = ready_, called = false]() mutable {
            if (called)
                return;
            called = true;
            if (--*left == 0)
                ready();
        };
    }

private:
    unsigned slot_;
    std::uint32_t generation_;
    std::shared_ptr<unsigned> left_;
    std::function<void()> ready_;
};

/// Relative file paths a handler names: no NUL, no "..", no leading '/'.
bool safe_relative(std::string_view p) noexcept
{
    if (p.find('\0') != std::string_view::npos)
        return false;
    std::size_t at = 0;
    while (at <= p.size()) {
        const std::size_t slash = p.find('/', at);
        const std::string_view seg = p.substr(at, slash == std::string_view::npos ? std::string_view::npos : slash - at);
        if (seg == "..")
            return false;
        if (slash == std::string_view::npos)
            break;
        at = slash + 1;
    }
    return true;
}

} // namespace

std::string app_runtime::build(const detail::app_spec& spec, router& routes)
{
    for (const detail::route_spec& r : spec.routes)
        if (std::string refused = add(routes, r.methods, r.pattern, r.fn); !refused.empty())
            return refused;
    std::vector<std::string> mounted(spec.roots.size(), "/");
    for (const detail::mount_spec& m : spec.mounts)
        mounted[m.root] = m.prefix;
    for (std::size_t i = 0; i < spec.roots.size(); ++i) {
        const detail::root_spec& root = spec.roots[i];
        net::unique_fd fd(::open(root.dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
        if (!fd)
            return net::sys_error("open", root.dir, errno);
        roots_.push_back(std::make_unique<static_handler>(
            fd.get(), static_options{root.options.index, root.options.dotfiles, root.options.autoindex, mounted[i],
                                     open_files_}));
        root_fds_.push_back(std::move(fd));
        root_prefixes_.push_back(mounted[i]);
    }
    for (const detail::mount_spec& m : spec.mounts)
        if (std::string refused = routes.add_prefix(m.prefix, http::get_head, roots_[m.root].get()); !refused.empty())
            return refused;
    return {};
}

std::string app_runtime::mount(router& routes, std::string_view prefix, const std::string& dir,
                               const file_options& options)
{
    net::unique_fd fd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd)
        return net::sys_error("open", dir, errno);
    roots_.push_back(std::make_unique<static_handler>(
        fd.get(), static_options{options.index, options.dotfiles, options.autoindex, std::string(prefix), open_files_}));
    root_fds_.push_back(std::move(fd));
    root_prefixes_.emplace_back(prefix);
    return routes.add_prefix(prefix, http::get_head, roots_.back().get());
}

std::string app_runtime::add(router& routes, http::method_mask methods, std::string_view pattern,
                             ringfork::handler fn)
{
    handlers_.push_back(std::make_unique<app_route>(std::move(fn)));
    return routes.add(pattern, methods, handlers_.back().get());
}

std::string app_runtime::start(loop& l)
{
    std::string error;
    std::shared_ptr<detail::post_queue> q = detail::post_queue::create(error);
    if (!q)
        return error;
    posts_ = std::make_unique<post_service>(q);
    posts_->start(l.ring(), l.add_service(*posts_));
    tasks_ = std::make_unique<app_tasks>(l.env().tasks, l.env(), q);
    app_tasks::make_current(tasks_.get());
    current_queue = std::move(q);
    l.env().app = this;
    return {};
}

bool app_runtime::run_start_hooks(const detail::app_spec& spec, unsigned slot, std::uint32_t generation,
                                  std::function<void()> ready)
{
    auto left = std::make_shared<unsigned>(1); // 1: the hooks themselves are still running
    start_view view(slot, generation, left, ready);
    for (const auto& hook : spec.on_worker_start)
        hook(view);
    if (--*left == 0)
        return false;
    return true;
}

void app_runtime::stop() noexcept
{
    if (posts_)
        posts_->queue()->close();
    app_tasks::make_current(nullptr);
    current_queue.reset();
}

static_handler* app_runtime::root(const file_root& root) noexcept
{
    return root.index() < roots_.size() ? roots_[root.index()].get() : nullptr;
}

void app_runtime::serve_file(static_handler& files, const request_view& req, std::string_view relative,
                             http::response_writer& w, deferred& later)
{
    while (relative.starts_with('/'))
        relative.remove_prefix(1);
    std::size_t i = 0;
    while (i < roots_.size() && roots_[i].get() != &files)
        ++i;
    if (i == roots_.size() || !safe_relative(relative)) {
        http::write_error(w, 404);
        return;
    }
    const std::string path = root_prefixes_[i] + std::string(relative);
    const request_view view{req.head, path, req.body, req.now_ms, req.params, req.env};
    files.handle(view, w, later);
}

} // namespace ringfork::worker

namespace ringfork {

loop_ref current_loop()
{
    return loop_ref(worker::current_queue);
}

} // namespace ringfork
