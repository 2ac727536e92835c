// One instance of a supervised app.
#include "master/apps/instance.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>

#include <fmt/format.h>

#include "master/apps/keeper.hpp"
#include "master/apps/loopback_port.hpp"
#include "master/supervise/spawn.hpp"
#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::master {

namespace {

constexpr std::uint64_t readiness_every_ms = 100; ///< While starting: the app is about to listen.
constexpr std::uint64_t health_every_ms = 1000;   ///< Once ready.
constexpr std::uint64_t check_timeout_ms = 2000;  ///< One check, at most (and at most the health timeout).
constexpr std::uint64_t keeper_grace_ms = 5000;   ///< A keeper still there this long after the KILL is killed too.

} // namespace

const char* state_name(instance_state s) noexcept
{
    switch (s) {
    case instance_state::starting: return "starting";
    case instance_state::ready: return "ready";
    case instance_state::draining: return "draining";
    case instance_state::stopping: return "stopping";
    }
    return "?";
}

std::unique_ptr<app_instance> app_instance::start(const app_spec& spec, unsigned index, std::uint32_t generation,
                                                  std::uint16_t port, std::uint64_t now_ms)
{
    std::unique_ptr<app_instance> in(new app_instance());
    in->name_ = fmt::format("{}.{}", spec.name, index);
    in->health_path_ = spec.health_path;
    in->health_timeout_ms_ = spec.health_timeout_ms;
    in->start_timeout_ms_ = spec.start_timeout_ms;
    in->index_ = index;
    in->generation_ = generation;
    in->port_ = port;
    in->started_ms_ = now_ms;
    in->next_check_ms_ = now_ms + readiness_every_ms;
    const std::string who = "app " + in->name_;
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        net::log::error("{}", net::sys_error("pipe2", who, errno));
        return nullptr;
    }
    net::unique_fd read_end(pipe_fds[0]), write_end(pipe_fds[1]);
    (void)::fcntl(read_end.get(), F_SETFL, O_NONBLOCK); // without it only a stall, never a loss
    keeper_plan plan;
    plan.name = who;
    plan.argv = spec.argv;
    plan.port = port;
    plan.index = index;
    plan.output_fd = write_end.get();
    plan.master = ::getpid();
    auto child = spawn_child({who, {write_end.get()}}, [&](int channel_fd) { return run_keeper(plan, channel_fd); });
    if (!child)
        return nullptr;
    in->keeper_ = child->pid;
    in->channel_ = std::move(child->channel);
    in->output_ = std::make_unique<output_relay>(who, std::move(read_end));
    return in;
}

app_instance::~app_instance()
{
    if (keeper_ && !reaped_) {
        kill_now();
        ::kill(keeper_, SIGKILL);
    }
}

std::string app_instance::address() const
{
    return fmt::format("127.0.0.1:{}", port_);
}

void app_instance::add_pollfds(std::vector<pollfd>& fds) const
{
    fds.push_back({output_->fd(), POLLIN, 0});
    fds.push_back({channel_.get(), POLLIN, 0});
    fds.push_back(check_.poll_entry());
}

instance_event app_instance::on_poll(std::span<const pollfd> fds, std::uint64_t now_ms)
{
    if (fds.size() < 3)
        return instance_event::none;
    if (fds[0].revents && fds[0].fd == output_->fd())
        output_->on_readable();
    if (fds[1].revents && fds[1].fd == channel_.get())
        read_reports();
    if (fds[2].revents && fds[2].fd >= 0 && fds[2].fd == check_.poll_entry().fd)
        return on_check(check_.on_poll(fds[2].revents), now_ms);
    return instance_event::none;
}

void app_instance::read_reports()
{
    keeper_report r;
    for (;;) {
        const ssize_t n = ::recv(channel_.get(), &r, sizeof r, MSG_DONTWAIT);
        if (n == static_cast<ssize_t>(sizeof r)) {
            if (r.what == keeper_report::kind::started && r.pid > 0)
                app_ = r.pid;
            else if (r.what == keeper_report::kind::exited)
                app_status_ = r.status;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            channel_.reset(); // the keeper is gone; its exit is reaped from SIGCHLD
        return;
    }
}

instance_event app_instance::tick(std::uint64_t now_ms)
{
    if (state_ == instance_state::stopping) {
        if (kill_at_ms_ && now_ms >= kill_at_ms_) {
            net::log::warn("app {} (pid {}) still running {} ms after TERM: KILL of its process group", name_, app_,
                           stop_grace_ms_);
            kill_now();
            kill_at_ms_ = 0;
            forget_keeper_ms_ = now_ms + keeper_grace_ms;
        } else if (forget_keeper_ms_ && now_ms >= forget_keeper_ms_) {
            ::kill(keeper_, SIGKILL);
            forget_keeper_ms_ = 0;
        }
        return instance_event::none;
    }
    if (state_ == instance_state::draining)
        return instance_event::none;
    if (const probe::result r = check_.on_time(now_ms); r != probe::result::pending)
        return on_check(r, now_ms);
    if (state_ == instance_state::starting && now_ms >= started_ms_ + start_timeout_ms_)
        return instance_event::not_ready;
    if (state_ == instance_state::ready && now_ms >= last_pass_ms_ + health_timeout_ms_)
        return instance_event::unhealthy;
    if (!check_.active() && now_ms >= next_check_ms_) {
        const std::uint64_t timeout = std::min(check_timeout_ms, health_timeout_ms_);
        return on_check(check_.start(port_, health_path_, now_ms, timeout), now_ms);
    }
    return instance_event::none;
}

instance_event app_instance::on_check(probe::result r, std::uint64_t now_ms)
{
    if (r == probe::result::pending)
        return instance_event::none;
    const bool starting = state_ == instance_state::starting;
    next_check_ms_ = now_ms + (starting ? readiness_every_ms : health_every_ms);
    if (r == probe::result::failed) {
        // While starting, failing is what it does until it listens: not worth a line.
        if (!starting && !failing_)
            net::log::warn("app {} (pid {}): health check failed: {}", name_, app_, check_.why());
        failing_ = !starting;
        return instance_event::none;
    }
    if (failing_)
        net::log::info("app {} (pid {}): health check passes again", name_, app_);
    failing_ = false;
    last_pass_ms_ = now_ms;
    if (!starting)
        return instance_event::none;
    if (app_ == 0) {
        read_reports(); // the keeper reports the pid before the application can listen
        if (app_ == 0)
            return instance_event::none;
    }
    return listener_is_ours() ? instance_event::ready : instance_event::foreign;
}

// Another local user can bind the port between the moment it was chosen and the moment the
// application binds it; the proxy must then never send it a request. Every socket listening
// where 127.0.0.1:PORT connections arrive must belong to the application's user.
bool app_instance::listener_is_ours()
{
    struct stat st{};
    if (::stat(fmt::format("/proc/{}", app_).c_str(), &st) != 0) {
        net::log::warn("{}", net::sys_error("stat", fmt::format("/proc/{} (app {})", app_, name_), errno));
        return false;
    }
    const port_listeners who = loopback_listeners(port_);
    if (!who.readable) {
        net::log::warn("app {}: /proc/net/tcp cannot be read: the listener on port {} is not checked", name_, port_);
        return true;
    }
    const auto foreign = std::find_if(who.uids.begin(), who.uids.end(), [&](uid_t u) { return u != st.st_uid; });
    if (foreign == who.uids.end())
        return true;
    net::log::error("app {} (pid {}): port {} is held by uid {}, not by the app's uid {}", name_, app_, port_,
                    *foreign, st.st_uid);
    return false;
}

std::uint64_t app_instance::next_deadline_ms() const noexcept
{
    std::uint64_t next = ~0ull;
    const auto at = [&](std::uint64_t t) {
        if (t)
            next = std::min(next, t);
    };
    switch (state_) {
    case instance_state::stopping:
        at(kill_at_ms_);
        at(forget_keeper_ms_);
        break;
    case instance_state::draining:
        break;
    case instance_state::starting:
        at(started_ms_ + start_timeout_ms_);
        [[fallthrough]];
    case instance_state::ready:
        at(check_.active() ? check_.deadline_ms() : next_check_ms_);
        if (state_ == instance_state::ready)
            at(last_pass_ms_ + health_timeout_ms_);
        break;
    }
    return next == ~0ull ? 0 : next;
}

void app_instance::stop(std::uint64_t now_ms, std::uint64_t grace_ms)
{
    if (state_ == instance_state::stopping || reaped_)
        return;
    state_ = instance_state::stopping;
    check_.cancel();
    stop_grace_ms_ = grace_ms;
    kill_at_ms_ = now_ms + grace_ms;
    ::kill(keeper_, SIGTERM); // the keeper sends it on to the application's group
}

void app_instance::kill_now() noexcept
{
    if (app_ > 0 && !reaped_)
        ::kill(-app_, SIGKILL);
    else if (!reaped_)
        ::kill(keeper_, SIGKILL); // the application dies with it (PR_SET_PDEATHSIG)
}

std::string app_instance::on_reaped(int status)
{
    reaped_ = true;
    if (channel_)
        read_reports();
    output_->on_readable(); // its last lines, if they are there already
    return app_status_ ? describe_exit(*app_status_) : "keeper " + describe_exit(status);
}

} // namespace ringfork::master
