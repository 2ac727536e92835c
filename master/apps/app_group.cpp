// One supervised app's instances.
//
// The rule, the same one the master keeps for worker slots: the newest ready instance of
// an index serves it; older ones of that index leave the address set and stop once the
// workers have drained them. A refill (an index with no instance starting or ready) starts
// at once, then with back-off; a reload replaces one index at a time, the next only once
// the previous old instance has left.
#include "master/apps/app_group.hpp"

#include <algorithm>
#include <tuple>

#include <fmt/format.h>

#include "master/apps/loopback_port.hpp"
#include "net/log.hpp"

namespace ringfork::master {

namespace {

/// A fast stop gives instances this long between TERM and KILL.
constexpr std::uint64_t fast_stop_grace_ms = 1000;

std::string pid_list(const std::vector<pid_t>& pids)
{
    std::string out;
    for (pid_t p : pids)
        out += fmt::format("{}{}", out.empty() ? "" : ", ", p);
    return out;
}

} // namespace

app_group::slot& app_group::at(unsigned index)
{
    if (slots_.size() <= index)
        slots_.resize(index + 1);
    return slots_[index];
}

void app_group::reconfigure(app_spec spec, std::uint64_t now_ms)
{
    spec_ = std::move(spec);
    ++generation_;
    rolling_ = true;
    // Indices past the new count go now; the others are replaced in turn by tick().
    for (auto& m : members_)
        if (m->in->index() >= spec_.instances) {
            if (m->in->state() == instance_state::ready)
                take_out(*m);
            else if (m->in->state() == instance_state::starting)
                m->in->stop(now_ms, spec_.stop_timeout_ms);
        }
    net::log::info("app {}: reload: replacing {} instance{} one at a time", spec_.name, spec_.instances,
                   spec_.instances == 1 ? "" : "s");
}

void app_group::retire(std::uint64_t now_ms)
{
    retired_ = true;
    net::log::info("app {}: no longer configured: its instances drain and stop", spec_.name);
    for (auto& m : members_) {
        if (m->in->state() == instance_state::ready)
            take_out(*m);
        else if (m->in->state() == instance_state::starting)
            m->in->stop(now_ms, spec_.stop_timeout_ms);
    }
}

void app_group::stop(std::uint64_t now_ms, bool graceful)
{
    stopping_ = true;
    for (auto& m : members_)
        m->in->stop(now_ms, graceful ? spec_.stop_timeout_ms : std::min<std::uint64_t>(spec_.stop_timeout_ms,
                                                                                          fast_stop_grace_ms));
}

void app_group::kill_all() noexcept
{
    for (auto& m : members_)
        m->in->kill_now();
}

void app_group::add_pollfds(std::vector<pollfd>& fds) const
{
    for (const auto& m : members_)
        m->in->add_pollfds(fds);
}

void app_group::on_poll(std::span<const pollfd> fds, std::uint64_t now_ms)
{
    // Three entries per instance, as add_pollfds appended them; an instance added or removed
    // on the way shifts nothing, since only members present at the poll are walked.
    const std::size_t n = std::min(members_.size(), fds.size() / 3);
    std::vector<member*> polled;
    for (std::size_t i = 0; i < n; ++i)
        polled.push_back(members_[i].get());
    for (std::size_t i = 0; i < polled.size(); ++i)
        on_event(*polled[i], polled[i]->in->on_poll(fds.subspan(i * 3, 3), now_ms), now_ms);
}

void app_group::tick(app_context& ctx, std::uint64_t now_ms)
{
    while (!recent_ports_.empty() && recent_ports_.front().until_ms <= now_ms)
        recent_ports_.pop_front();
    std::vector<member*> all;
    for (auto& m : members_)
        all.push_back(m.get());
    for (member* m : all)
        on_event(*m, m->in->tick(now_ms), now_ms);
    check_drains(ctx, now_ms);
    if (!stopping_ && !retired_)
        start_due(ctx, now_ms);
    if (rolling_ && !replacing() &&
        std::none_of(members_.begin(), members_.end(), [&](const auto& m) { return m->in->generation() < generation_; })) {
        rolling_ = false;
        net::log::info("app {}: reload complete: {} instance{} serving", spec_.name, spec_.instances,
                       spec_.instances == 1 ? "" : "s");
    }
}

void app_group::start_due(app_context& ctx, std::uint64_t now_ms)
{
    for (unsigned i = 0; i < spec_.instances; ++i)
        if (!covered(i) && now_ms >= at(i).start_at_ms)
            spawn(i, ctx, now_ms);
    if (replacing())
        return;
    // The next replacement: the lowest index served only by an older generation.
    for (unsigned i = 0; i < spec_.instances; ++i) {
        const bool old_only = std::none_of(members_.begin(), members_.end(), [&](const auto& m) {
            return m->in->index() == i && m->in->generation() == generation_ &&
                   m->in->state() != instance_state::stopping;
        });
        if (old_only && covered(i) && now_ms >= at(i).start_at_ms) {
            spawn(i, ctx, now_ms);
            return;
        }
    }
}

bool app_group::covered(unsigned index) const noexcept
{
    return std::any_of(members_.begin(), members_.end(), [&](const auto& m) {
        return m->in->index() == index &&
               (m->in->state() == instance_state::starting || m->in->state() == instance_state::ready);
    });
}

bool app_group::replacing() const noexcept
{
    return std::any_of(members_.begin(), members_.end(), [&](const auto& m) {
        if (m->in->state() == instance_state::draining)
            return true;
        if (m->in->state() != instance_state::starting)
            return false;
        return std::any_of(members_.begin(), members_.end(), [&](const auto& o) {
            return o->in->index() == m->in->index() && o->in->state() == instance_state::ready;
        });
    });
}

void app_group::spawn(unsigned index, app_context& ctx, std::uint64_t now_ms)
{
    slot& s = at(index);
    std::string error;
    const auto port = pick_free_port(ctx.ports_in_use, error);
    auto in = port ? app_instance::start(spec_, index, generation_, *port, now_ms) : nullptr;
    if (!in) {
        if (!port)
            net::log::error("app {}.{}: {}", spec_.name, index, error);
        s.start_at_ms = now_ms + backoff::max_ms;
        return;
    }
    net::log::info("app {}: starting on port {} (keeper pid {}, generation {})", in->name(), *port, in->keeper(),
                   generation_);
    auto m = std::make_unique<member>();
    m->in = std::move(in);
    members_.push_back(std::move(m));
}

void app_group::on_event(member& m, instance_event e, std::uint64_t now_ms)
{
    switch (e) {
    case instance_event::none:
        return;
    case instance_event::ready:
        on_ready(m, now_ms);
        return;
    case instance_event::unhealthy:
        net::log::error("app {} (pid {}): no health check passed for {} ms (last: {}): stopping it", m.in->name(),
                        m.in->pid(), spec_.health_timeout_ms, m.in->last_failure());
        break;
    case instance_event::not_ready:
        net::log::error("app {} (pid {}) not ready {} ms after its start: stopping it", m.in->name(), m.in->pid(),
                        spec_.start_timeout_ms);
        break;
    case instance_event::foreign:
        net::log::error("app {} (pid {}): stopping it; its replacement gets another port", m.in->name(), m.in->pid());
        break;
    }
    fail(m, now_ms);
}

void app_group::on_ready(member& m, std::uint64_t now_ms)
{
    if (stopping_ || retired_ || m.in->index() >= spec_.instances) {
        m.in->stop(now_ms, spec_.stop_timeout_ms);
        return;
    }
    m.in->set_state(instance_state::ready);
    m.ready_ms = now_ms;
    changed_ = true;
    net::log::info("app {} (pid {}) ready on {} after {} ms", m.in->name(), m.in->pid(), m.in->address(),
                   now_ms - m.in->started_ms());
    for (auto& o : members_) {
        if (o.get() == &m || o->in->index() != m.in->index())
            continue;
        if (o->in->state() == instance_state::ready)
            take_out(*o);
        else if (o->in->state() == instance_state::starting)
            o->in->stop(now_ms, spec_.stop_timeout_ms);
    }
}

void app_group::take_out(member& m)
{
    m.in->set_state(instance_state::draining);
    m.drain_until_ms = 0; // the bound starts when the set is sent, on this turn's check_drains
    changed_ = true;
}

// A failed instance leaves the set at once (its in-flight requests are lost with it; the
// proxy retries the idempotent ones elsewhere) and its index is refilled with back-off.
void app_group::fail(member& m, std::uint64_t now_ms)
{
    if (m.in->state() == instance_state::ready)
        changed_ = true;
    slot& s = at(m.in->index());
    s.start_at_ms = now_ms + s.respawn.next_delay(now_ms - m.in->started_ms());
    ++s.restarts;
    m.in->stop(now_ms, spec_.stop_timeout_ms);
}

void app_group::check_drains(app_context& ctx, std::uint64_t now_ms)
{
    for (auto& m : members_) {
        if (m->in->state() != instance_state::draining)
            continue;
        if (m->drain_until_ms == 0)
            m->drain_until_ms = now_ms + ctx.drain_timeout_ms;
        const std::vector<pid_t> users = ctx.sets.users(spec_.name, m->in->address());
        if (users.empty()) {
            net::log::info("app {} (pid {}) drained: stopping it", m->in->name(), m->in->pid());
        } else if (now_ms >= m->drain_until_ms) {
            net::log::warn("app {} (pid {}): workers {} did not report it drained within {} ms: stopping it anyway",
                           m->in->name(), m->in->pid(), pid_list(users), ctx.drain_timeout_ms);
        } else {
            continue;
        }
        m->in->stop(now_ms, spec_.stop_timeout_ms);
    }
}

std::uint64_t app_group::next_deadline_ms() const noexcept
{
    std::uint64_t next = ~0ull;
    for (const auto& m : members_) {
        if (const std::uint64_t d = m->in->next_deadline_ms())
            next = std::min(next, d);
        if (m->in->state() == instance_state::draining && m->drain_until_ms)
            next = std::min(next, m->drain_until_ms);
    }
    if (!stopping_ && !retired_)
        for (unsigned i = 0; i < spec_.instances && i < slots_.size(); ++i)
            if (!covered(i) && slots_[i].start_at_ms)
                next = std::min(next, slots_[i].start_at_ms);
    return next == ~0ull ? 0 : next;
}

bool app_group::owns(pid_t pid) const noexcept
{
    return std::any_of(members_.begin(), members_.end(), [&](const auto& m) { return m->in->keeper() == pid; });
}

bool app_group::on_exit(pid_t pid, int status, std::uint64_t now_ms)
{
    const auto it = std::find_if(members_.begin(), members_.end(), [&](const auto& m) { return m->in->keeper() == pid; });
    if (it == members_.end())
        return false;
    member& m = **it;
    const std::string how = m.in->on_reaped(status);
    const std::uint64_t uptime = now_ms - m.in->started_ms();
    slot& s = at(m.in->index());
    s.last_exit = how;
    switch (m.in->state()) {
    case instance_state::stopping:
        net::log::info("app {} (pid {}) stopped: {}", m.in->name(), m.in->pid(), how);
        break;
    case instance_state::draining:
        changed_ = true; // no longer wanted in any set, nor waited for
        net::log::warn("app {} (pid {}) ended with {} while draining", m.in->name(), m.in->pid(), how);
        break;
    case instance_state::ready:
    case instance_state::starting: {
        const bool was_ready = m.in->state() == instance_state::ready;
        changed_ = changed_ || was_ready;
        const std::uint64_t delay = s.respawn.next_delay(uptime);
        s.start_at_ms = now_ms + delay;
        ++s.restarts;
        if (stopping_ || retired_)
            net::log::warn("app {} (pid {}) ended with {}", m.in->name(), m.in->pid(), how);
        else
            net::log::warn("app {} (pid {}) ended with {} after {:.1f} s{}; starting it again in {} ms", m.in->name(),
                           m.in->pid(), how, static_cast<double>(uptime) / 1000.0,
                           was_ready ? "" : " before it was ready", delay);
        break;
    }
    }
    recent_ports_.push_back({m.in->port(), now_ms + 60'000});
    members_.erase(it);
    return true;
}

std::vector<std::string> app_group::addresses() const
{
    std::vector<const member*> ready;
    for (const auto& m : members_)
        if (m->in->state() == instance_state::ready)
            ready.push_back(m.get());
    std::sort(ready.begin(), ready.end(), [](const member* a, const member* b) {
        return a->in->index() != b->in->index() ? a->in->index() < b->in->index()
                                                : a->in->generation() < b->in->generation();
    });
    std::vector<std::string> out;
    for (const member* m : ready)
        out.push_back(m->in->address());
    return out;
}

std::vector<std::string> app_group::all_addresses() const
{
    std::vector<std::string> out;
    for (const auto& m : members_)
        out.push_back(m->in->address());
    return out;
}

bool app_group::all_ready() const noexcept
{
    for (unsigned i = 0; i < spec_.instances; ++i)
        if (std::none_of(members_.begin(), members_.end(), [&](const auto& m) {
                return m->in->index() == i && m->in->state() == instance_state::ready;
            }))
            return false;
    return true;
}

void app_group::ports(std::vector<std::uint16_t>& out, std::uint64_t now_ms) const
{
    for (const auto& m : members_)
        out.push_back(m->in->port());
    for (const recent_port& r : recent_ports_)
        if (r.until_ms > now_ms)
            out.push_back(r.port);
}

void app_group::view(std::vector<app_view>& out, std::uint64_t now_ms,
                     const std::function<std::uint64_t(std::string_view address)>& live) const
{
    for (const auto& m : members_) {
        app_view v;
        v.app = spec_.name;
        v.index = m->in->index();
        v.pid = m->in->pid();
        v.port = m->in->port();
        v.generation = m->in->generation();
        v.state = state_name(m->in->state());
        v.uptime_s = static_cast<double>(now_ms - m->in->started_ms()) / 1000.0;
        v.requests = m->banked_requests + live(m->in->address());
        if (v.index < slots_.size()) {
            v.restarts = slots_[v.index].restarts;
            v.last_exit = slots_[v.index].last_exit;
        }
        out.push_back(std::move(v));
    }
    std::sort(out.begin(), out.end(), [](const app_view& a, const app_view& b) {
        return std::tie(a.app, a.index, a.generation) < std::tie(b.app, b.index, b.generation);
    });
}

void app_group::bank_requests(std::string_view address, std::uint64_t requests) noexcept
{
    for (auto& m : members_)
        if (m->in->address() == address)
            m->banked_requests += requests;
}

} // namespace ringfork::master
