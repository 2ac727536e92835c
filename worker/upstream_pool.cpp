// The worker's upstream connections.
#include "worker/upstream_pool.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::worker {

namespace {

constexpr std::uint64_t sweep_every_ms = 1000;
constexpr unsigned log_lines_per_second = 20; ///< Failure lines per upstream; more are summed up.

} // namespace

upstream_pool::upstream_pool(const ipc::proxy_settings& settings)
{
    ups_.reserve(settings.upstreams.size());
    for (const ipc::upstream_settings& s : settings.upstreams)
        ups_.push_back({&s, upstream_balancer(s.addresses), {}});
    spare_.reserve(spare_max);
}

void upstream_pool::attach(net::ring& ring, worker_env& env, std::uint8_t id) noexcept
{
    ring_ = &ring;
    env_ = &env;
    id_ = id;
}

upstream_pool::refusal upstream_pool::acquire(std::uint16_t upstream, upstream_balancer::tried_set tried, bool fresh,
                                              upstream_lease& out)
{
    upstream_entry& u = ups_[upstream];
    const int slot = u.balancer.choose(env_->now_ms, tried);
    if (slot == upstream_balancer::none)
        return refusal::no_address;
    if (u.idle.size() < u.balancer.slots())
        u.idle.resize(u.balancer.slots());
    count_request(upstream, slot);
    out.upstream = upstream;
    out.endpoint = slot;
    std::vector<std::uint32_t>& idle = u.idle[std::size_t(slot)];
    if (!fresh && !idle.empty()) {
        const std::uint32_t index = idle.back();
        idle.pop_back();
        conn& c = conns_[index];
        c.st = conn::state::leased;
        ++c.generation; // a watch armed before this request is recognised as such
        --u.balancer.at(slot).idle;
        out.fd = c.fd.get();
        out.record = index;
        out.reused = true;
        return refusal::none;
    }
    if (open_ >= env_->settings.max_connections && !close_oldest_idle()) {
        u.balancer.finish(slot, upstream_balancer::health::neutral, env_->now_ms);
        out.endpoint = upstream_balancer::none;
        return refusal::capacity;
    }
    const ipc::upstream_address& a = u.balancer.at(slot).address;
    net::unique_fd fd(::socket(a.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        failed(out, ipc::upstream_failure::connect, fmt::format("socket: {}", std::strerror(errno)));
        u.balancer.finish(slot, upstream_balancer::health::neutral, env_->now_ms);
        out.endpoint = upstream_balancer::none;
        return refusal::socket;
    }
    if (!a.is_unix()) {
        const int one = 1;
        (void)setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); // a lost optimisation at worst
    }
    out.fd = fd.get();
    out.record = open_record(std::move(fd), upstream, slot);
    out.reused = false;
    out.addr = a.addr;
    out.addr_len = a.length;
    ++stats(upstream).connections;
    return refusal::none;
}

std::uint32_t upstream_pool::open_record(net::unique_fd fd, std::uint16_t upstream, int endpoint)
{
    std::uint32_t index;
    if (!free_conns_.empty()) {
        index = free_conns_.back();
        free_conns_.pop_back();
    } else {
        index = static_cast<std::uint32_t>(conns_.size());
        conns_.emplace_back();
    }
    conn& c = conns_[index];
    c.fd = std::move(fd);
    c.upstream = upstream;
    c.endpoint = endpoint;
    c.st = conn::state::leased;
    c.watched = false;
    c.dead = false;
    ++open_;
    return index;
}

void upstream_pool::release(upstream_lease& lease, bool keep, upstream_balancer::health h)
{
    if (!lease)
        return;
    upstream_entry& u = ups_[lease.upstream];
    if (u.balancer.finish(lease.endpoint, h, env_->now_ms)) {
        ++stats(lease.upstream).ejections;
        net::log::warn("upstream {} {}: ejected for {} s after {} failures in a row", name(lease.upstream),
                       address(lease), upstream_balancer::eject_ms / 1000, upstream_balancer::eject_after);
    }
    upstream_balancer::endpoint& e = u.balancer.at(lease.endpoint);
    const bool removed = e.removed;
    if (keep && !conns_[lease.record].dead && !removed && e.idle < idle_per_address_max && !env_->draining) {
        park(lease);
    } else {
        ++e.idle; // counted until closed, so an address drains only once its sockets are gone
        close_conn(lease.record);
    }
    lease.endpoint = upstream_balancer::none;
    lease.fd = -1;
    if (removed)
        report_drained(lease.upstream);
}

// A connection kept for the next request, watched by a poll that reads nothing: it
// completes when the upstream closes (POLLRDHUP, POLLHUP), the socket errs, or bytes
// arrive that nobody asked for, and each of those ends an idle connection. It is not
// cancelled when the connection is used again (so taking a kept connection costs no op);
// it then completes when the response arrives, and is armed again here when needed.
void upstream_pool::park(upstream_lease& lease)
{
    conn& c = conns_[lease.record];
    c.st = conn::state::idle;
    c.since_ms = env_->now_ms;
    upstream_entry& u = ups_[lease.upstream];
    if (u.idle.size() < u.balancer.slots())
        u.idle.resize(u.balancer.slots());
    u.idle[std::size_t(lease.endpoint)].push_back(lease.record);
    ++u.balancer.at(lease.endpoint).idle;
    if (!c.watched)
        watch(lease.record);
    if (next_sweep_ms_ == 0)
        next_sweep_ms_ = env_->now_ms + sweep_every_ms;
}

// A watch completed. Idle: the upstream closed the connection, it erred or sent stray
// bytes: closed now. In use: the response arrived (nothing to do), or the upstream closed
// or it erred (never reused; the request sees it for itself), or a source cancelled every
// op on its socket; the watch is armed again if the connection is kept. Closing: the
// socket closes now that nothing is outstanding on it.
void upstream_pool::watch(std::uint32_t index)
{
    conn& c = conns_[index];
    c.watch_generation = c.generation;
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_poll_add(sqe, c.fd.get(), POLLIN | POLLRDHUP);
    io_uring_sqe_set_data64(sqe, service_user_data(id_, index, c.watch_generation));
    c.watched = true;
}

void upstream_pool::on_completion(const user_data& u, const io_uring_cqe& cqe)
{
    if (u.index >= conns_.size() || conns_[u.index].st == conn::state::free || !conns_[u.index].watched ||
        (conns_[u.index].watch_generation & user_data::generation_mask) != u.generation) {
        net::log::error("upstream pool: watch completion for no connection (record {}, res {})", u.index, cqe.res);
        std::abort();
    }
    conn& c = conns_[u.index];
    c.watched = false;
    const bool broken = cqe.res < 0 ? cqe.res != -ECANCELED : (cqe.res & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    const bool earlier = (c.generation & user_data::generation_mask) != u.generation; // armed before a request
    switch (c.st) {
    case conn::state::closing:
        free_record(u.index);
        return;
    case conn::state::leased:
        c.dead = c.dead || broken;
        return;
    case conn::state::idle:
        if (earlier && !broken) {
            watch(u.index); // it may have fired for the response since read: look again
            return;
        }
        unlist_idle(u.index);
        free_record(u.index);
        return;
    case conn::state::free:
        break;
    }
}

void upstream_pool::close_conn(std::uint32_t index)
{
    conn& c = conns_[index];
    if (!c.watched) {
        free_record(index);
        return;
    }
    c.st = conn::state::closing;
    io_uring_sqe* sqe = ring_->sqe();
    io_uring_prep_cancel64(sqe, service_user_data(id_, index, c.watch_generation), 0);
    io_uring_sqe_set_data64(sqe, ud(op::cancel));
}

void upstream_pool::free_record(std::uint32_t index)
{
    conn& c = conns_[index];
    const std::uint16_t upstream = c.upstream;
    upstream_balancer::endpoint& e = ups_[upstream].balancer.at(c.endpoint);
    --e.idle;
    const bool removed = e.removed;
    c.fd.reset();
    c.st = conn::state::free;
    ++c.generation;
    --open_;
    free_conns_.push_back(index);
    if (removed)
        report_drained(upstream);
}

void upstream_pool::unlist_idle(std::uint32_t index)
{
    const conn& c = conns_[index];
    std::vector<std::uint32_t>& list = ups_[c.upstream].idle[std::size_t(c.endpoint)];
    list.erase(std::find(list.begin(), list.end(), index));
}

bool upstream_pool::close_oldest_idle()
{
    std::uint32_t oldest = ~0u;
    for (std::uint32_t i = 0; i < conns_.size(); ++i)
        if (conns_[i].st == conn::state::idle && (oldest == ~0u || conns_[i].since_ms < conns_[oldest].since_ms))
            oldest = i;
    if (oldest == ~0u)
        return false;
    unlist_idle(oldest);
    close_conn(oldest); // counted until its watch completes: the limit is briefly passed by one
    return true;
}

void upstream_pool::tick()
{
    for (upstream_entry& u : ups_)
        if (u.suppressed > 0 && env_->now_ms / 1000 != u.log_second)
            flush_suppressed(u);
    if (next_sweep_ms_ == 0 || env_->now_ms < next_sweep_ms_)
        return;
    bool any = false;
    for (std::uint32_t i = 0; i < conns_.size(); ++i) {
        if (conns_[i].st != conn::state::idle)
            continue;
        if (env_->draining || env_->now_ms >= conns_[i].since_ms + idle_keep_ms) {
            unlist_idle(i);
            close_conn(i);
        } else {
            any = true;
        }
    }
    next_sweep_ms_ = any ? env_->now_ms + sweep_every_ms : 0;
}

long upstream_pool::next_wait_ms() const noexcept
{
    if (next_sweep_ms_ == 0)
        return -1;
    return next_sweep_ms_ > env_->now_ms ? static_cast<long>(next_sweep_ms_ - env_->now_ms) : 0;
}

void upstream_pool::set_addresses(std::uint32_t upstream, std::span<const ipc::upstream_address> addresses)
{
    upstream_entry& u = ups_[upstream];
    if (!u.balancer.replace(addresses)) {
        net::log::error("upstream {}: new address set refused: more than {} addresses current and draining",
                        u.settings->name, upstream_balancer::max_slots);
        return;
    }
    std::string list;
    for (const ipc::upstream_address& a : addresses)
        list += list.empty() ? a.text : ", " + a.text;
    net::log::info("upstream {}: addresses now {}", u.settings->name, list.empty() ? "(none)" : list);
    if (u.idle.size() < u.balancer.slots())
        u.idle.resize(u.balancer.slots());
    u.counted.assign(u.balancer.slots(), -1); // a slot may hold another address now
    for (std::size_t slot = 0; slot < u.balancer.slots(); ++slot)
        if (u.balancer.at(int(slot)).removed)
            while (!u.idle[slot].empty()) {
                const std::uint32_t index = u.idle[slot].back();
                u.idle[slot].pop_back();
                close_conn(index);
            }
    report_drained(static_cast<std::uint16_t>(upstream));
}

void upstream_pool::report_drained(std::uint16_t upstream)
{
    upstream_entry& u = ups_[upstream];
    u.balancer.collect_drained([&](int, const upstream_balancer::endpoint& e) {
        net::log::info("upstream {} {}: drained", u.settings->name, e.address.text);
        if (!report_)
            return;
        ipc::message m;
        m.type = ipc::msg_type::upstream_drained;
        m.upstream.upstream = upstream;
        m.upstream.count = 1;
        e.address.text.copy(m.upstream.addresses[0], ipc::upstream_address_text_max - 1);
        report_(m);
    });
}

void upstream_pool::count_request(std::uint16_t upstream, int slot)
{
    upstream_entry& u = ups_[upstream];
    if (u.counted.size() < u.balancer.slots())
        u.counted.resize(u.balancer.slots(), -1);
    int& at = u.counted[std::size_t(slot)];
    if (at < 0)
        at = address_entry(upstream, u.balancer.at(slot).address.text);
    if (at >= 0)
        ++env_->stats.by_address[std::size_t(at)].requests;
}

int upstream_pool::address_entry(std::uint16_t upstream, std::string_view text)
{
    auto& table = env_->stats.by_address;
    const std::uint64_t key = ipc::address_key(text);
    int take = -1;
    for (std::size_t i = 0; i < table.size(); ++i) {
        if (table[i].key == key && table[i].upstream == upstream)
            return static_cast<int>(i); // counted before (the address was in an earlier set)
        if (take < 0 && table[i].key == 0)
            take = static_cast<int>(i);
    }
    const auto held = [&](const ipc::address_requests& r) {
        const upstream_balancer& b = ups_[r.upstream].balancer;
        for (std::size_t s = 0; s < b.slots(); ++s)
            if (b.at(int(s)).live && ipc::address_key(b.at(int(s)).address.text) == r.key)
                return true;
        return false;
    };
    for (std::size_t i = 0; take < 0 && i < table.size(); ++i)
        if (table[i].upstream >= ups_.size() || !held(table[i]))
            take = static_cast<int>(i);
    if (take >= 0)
        table[std::size_t(take)] = {key, upstream, 0, 0};
    return take;
}

void upstream_pool::on_master_message(const ipc::message& m)
{
    if (m.type != ipc::msg_type::upstream_set)
        return;
    std::vector<ipc::upstream_address> addresses;
    std::string error;
    if (m.upstream.upstream >= ups_.size()) {
        net::log::warn("upstream_set for upstream {}, but only {} are configured", m.upstream.upstream, ups_.size());
        return;
    }
    if (!ipc::read_upstream_note(m.upstream, addresses, error)) {
        net::log::warn("upstream {}: {}", ups_[m.upstream.upstream].settings->name, error);
        return;
    }
    set_addresses(m.upstream.upstream, addresses);
}

void upstream_pool::failed(const upstream_lease& lease, ipc::upstream_failure why, std::string_view what)
{
    ++stats(lease.upstream).failures[std::size_t(why)];
    upstream_entry& u = ups_[lease.upstream];
    if (log_allowed(u))
        net::log::warn("upstream {} {}: {}", u.settings->name, address(lease), what);
}

void upstream_pool::failed(std::uint16_t upstream, ipc::upstream_failure why, std::string_view what)
{
    ++stats(upstream).failures[std::size_t(why)];
    upstream_entry& u = ups_[upstream];
    if (log_allowed(u))
        net::log::warn("upstream {}: {}", u.settings->name, what);
}

// Each failure is one line, up to log_lines_per_second per upstream; past that (every
// request failing under load) the rest of the second is summed up in one line.
bool upstream_pool::log_allowed(upstream_entry& u)
{
    const std::uint64_t second = env_->now_ms / 1000;
    if (second != u.log_second) {
        flush_suppressed(u);
        u.log_second = second;
        u.logged = 0;
    }
    if (u.logged < log_lines_per_second) {
        ++u.logged;
        return true;
    }
    ++u.suppressed;
    return false;
}

void upstream_pool::flush_suppressed(upstream_entry& u)
{
    if (u.suppressed == 0)
        return;
    net::log::warn("upstream {}: {} more failures in that second, not logged one by one", u.settings->name,
                   u.suppressed);
    u.suppressed = 0;
}

const ipc::upstream_timeouts& upstream_pool::timeouts(std::uint16_t upstream) const noexcept
{
    return ups_[upstream].settings->timeouts;
}

std::string_view upstream_pool::name(std::uint16_t upstream) const noexcept { return ups_[upstream].settings->name; }

std::string_view upstream_pool::address(const upstream_lease& lease) const noexcept
{
    return ups_[lease.upstream].balancer.at(lease.endpoint).address.text;
}

net::byte_buffer upstream_pool::take_buffer() noexcept
{
    if (spare_.empty())
        return {};
    net::byte_buffer b = std::move(spare_.back());
    spare_.pop_back();
    return b;
}

void upstream_pool::give_buffer(net::byte_buffer&& b) noexcept
{
    if (b.capacity() == 0 || b.capacity() > 64 * 1024 || spare_.size() >= spare_max) {
        b.release();
        return;
    }
    b.clear();
    spare_.push_back(std::move(b));
}

ipc::upstream_stats& upstream_pool::stats(std::uint16_t upstream) noexcept { return env_->stats.upstreams[upstream]; }

const upstream_balancer& upstream_pool::balancer(std::uint16_t upstream) const noexcept
{
    return ups_[upstream].balancer;
}

} // namespace ringfork::worker
