// The master's apps role.
#include "master/apps/app_supervisor.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "net/log.hpp"

namespace ringfork::master {

void app_supervisor::configure(const app_settings& settings, ipc::proxy_settings& proxy,
                               std::uint64_t drain_timeout_ms, std::uint64_t now_ms)
{
    const bool first = groups_.empty() && started_ms_ == 0;
    if (first)
        started_ms_ = now_ms;
    proxy_ = &proxy;
    drain_timeout_ms_ = drain_timeout_ms;
    for (const app_spec& spec : settings.apps) {
        const auto it =
            std::find_if(groups_.begin(), groups_.end(), [&](const auto& g) { return g->name() == spec.name; });
        if (it == groups_.end())
            groups_.push_back(std::make_unique<app_group>(spec));
        else
            (*it)->reconfigure(spec, now_ms);
    }
    for (auto& g : groups_)
        if (!settings.find(g->name()))
            g->retire(now_ms);
    // The reload's settings start with empty app upstreams: they get the sets serving now.
    for (const auto& g : groups_)
        if (ipc::upstream_settings* u = upstream_of(g->name())) {
            u->addresses.clear();
            for (const std::string& a : g->addresses())
                if (auto parsed = ipc::parse_upstream_address(a))
                    u->addresses.push_back(std::move(*parsed));
        }
    tick(now_ms);
}

ipc::upstream_settings* app_supervisor::upstream_of(std::string_view name) noexcept
{
    const int i = proxy_->find(name);
    return i < 0 ? nullptr : &proxy_->upstreams[std::size_t(i)];
}

bool app_supervisor::ready_for_workers(std::uint64_t now_ms) const
{
    return std::all_of(groups_.begin(), groups_.end(), [&](const auto& g) {
        return g->all_ready() || now_ms >= started_ms_ + g->spec().start_timeout_ms;
    });
}

std::string app_supervisor::not_ready() const
{
    std::string out;
    for (const auto& g : groups_)
        if (!g->all_ready())
            out += fmt::format("{}{}", out.empty() ? "" : ", ", g->name());
    return out;
}

void app_supervisor::publish_changes()
{
    for (auto& g : groups_) {
        if (!g->take_changed())
            continue;
        const std::vector<std::string> addresses = g->addresses();
        if (ipc::upstream_settings* u = upstream_of(g->name())) {
            u->addresses.clear();
            for (const std::string& a : addresses)
                if (auto parsed = ipc::parse_upstream_address(a))
                    u->addresses.push_back(std::move(*parsed));
        }
        std::string list;
        for (const std::string& a : addresses)
            list += fmt::format("{}{}", list.empty() ? "" : ", ", a);
        net::log::info("app {}: serving on {}", g->name(), list.empty() ? "(no instance ready)" : list);
        sets_.publish(g->name(), addresses);
    }
}

bool app_supervisor::owns(pid_t pid) const noexcept
{
    return std::any_of(groups_.begin(), groups_.end(), [&](const auto& g) { return g->owns(pid); });
}

bool app_supervisor::on_exit(pid_t pid, int status, std::uint64_t now_ms)
{
    const bool ours = std::any_of(groups_.begin(), groups_.end(), [&](auto& g) { return g->on_exit(pid, status, now_ms); });
    if (ours) {
        publish_changes();
        std::erase_if(groups_, [](const auto& g) { return g->finished(); });
    }
    return ours;
}

void app_supervisor::add_pollfds(std::vector<pollfd>& fds)
{
    polled_.clear();
    for (const auto& g : groups_) {
        const std::size_t before = fds.size();
        g->add_pollfds(fds);
        polled_.push_back(fds.size() - before);
    }
}

void app_supervisor::on_poll(std::span<const pollfd> fds, std::uint64_t now_ms)
{
    std::size_t at = 0;
    for (std::size_t i = 0; i < polled_.size() && i < groups_.size() && at + polled_[i] <= fds.size(); ++i) {
        groups_[i]->on_poll(fds.subspan(at, polled_[i]), now_ms);
        at += polled_[i];
    }
    publish_changes();
}

void app_supervisor::tick(std::uint64_t now_ms)
{
    std::vector<std::uint16_t> ports;
    for (const auto& g : groups_)
        g->ports(ports, now_ms);
    app_context ctx{sets_, drain_timeout_ms_, ports};
    for (auto& g : groups_)
        g->tick(ctx, now_ms);
    sets_.retry();
    publish_changes();
    std::erase_if(groups_, [](const auto& g) { return g->finished(); });
}

std::uint64_t app_supervisor::next_deadline_ms() const noexcept
{
    std::uint64_t next = ~0ull;
    for (const auto& g : groups_)
        if (const std::uint64_t d = g->next_deadline_ms())
            next = std::min(next, d);
    return next == ~0ull ? 0 : next;
}

void app_supervisor::stop(std::uint64_t now_ms, bool graceful)
{
    if (stopping_ && graceful)
        return;
    stopping_ = true;
    for (auto& g : groups_)
        g->stop(now_ms, graceful);
}

void app_supervisor::kill_all() noexcept
{
    for (auto& g : groups_)
        g->kill_all();
}

bool app_supervisor::empty() const noexcept
{
    return std::all_of(groups_.begin(), groups_.end(), [](const auto& g) { return g->empty(); });
}

void app_supervisor::worker_gone(pid_t pid, const ipc::worker_stats& last)
{
    for (const ipc::address_requests& r : last.by_address) {
        const std::string_view name = sets_.upstream_name(pid, r.upstream);
        if (r.key == 0 || name.empty())
            continue;
        for (auto& g : groups_)
            if (g->name() == name)
                for (const std::string& a : g->all_addresses())
                    if (ipc::address_key(a) == r.key)
                        g->bank_requests(a, r.requests);
    }
    sets_.worker_gone(pid);
}

std::vector<app_view> app_supervisor::view(std::span<const worker_snapshot> live, std::uint64_t now_ms) const
{
    std::vector<app_view> out;
    for (const auto& g : groups_) {
        const auto sent = [&](std::string_view address) {
            const std::uint64_t key = ipc::address_key(address);
            std::uint64_t n = 0;
            for (const worker_snapshot& w : live)
                for (const ipc::address_requests& r : w.stats->by_address)
                    if (r.key == key && sets_.upstream_name(w.pid, r.upstream) == g->name())
                        n += r.requests;
            return n;
        };
        g->view(out, now_ms, sent);
    }
    return out;
}

} // namespace ringfork::master
