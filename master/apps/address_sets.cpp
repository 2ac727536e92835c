// The apps' address sets as the workers know them.
#include "master/apps/address_sets.hpp"

#include <algorithm>
#include <cerrno>

#include <fmt/format.h>

#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::master {

void address_sets::worker_started(pid_t pid, int channel_fd, const ipc::proxy_settings& proxy)
{
    worker w;
    w.pid = pid;
    w.channel = channel_fd;
    for (const ipc::upstream_settings& u : proxy.upstreams) {
        w.upstreams.push_back(u.name);
        for (const ipc::upstream_address& a : u.addresses)
            w.known.push_back({u.name, a.text});
    }
    workers_.push_back(std::move(w));
}

void address_sets::worker_gone(pid_t pid)
{
    std::erase_if(workers_, [&](const worker& w) { return w.pid == pid; });
}

const address_sets::current_set* address_sets::find(std::string_view name) const noexcept
{
    const auto it = std::find_if(sets_.begin(), sets_.end(), [&](const current_set& s) { return s.upstream == name; });
    return it == sets_.end() ? nullptr : &*it;
}

void address_sets::publish(std::string_view name, const std::vector<std::string>& addresses)
{
    const auto set = std::find_if(sets_.begin(), sets_.end(), [&](const current_set& s) { return s.upstream == name; });
    if (set != sets_.end())
        set->addresses = addresses;
    else
        sets_.push_back({std::string(name), addresses});
    for (worker& w : workers_) {
        if (std::find(w.upstreams.begin(), w.upstreams.end(), name) == w.upstreams.end())
            continue;
        std::erase(w.pending, name);
        if (!send(w, name))
            w.pending.emplace_back(name);
    }
}

bool address_sets::send(worker& w, std::string_view name)
{
    const current_set* s = find(name);
    const auto at = std::find(w.upstreams.begin(), w.upstreams.end(), name);
    if (!s || at == w.upstreams.end())
        return true;
    ipc::message m;
    std::string error;
    if (!ipc::make_upstream_set(static_cast<std::uint32_t>(at - w.upstreams.begin()), s->addresses, m, error)) {
        net::log::error("app {}: {}", name, error);
        return true;
    }
    const int rc = ipc::send_message(w.channel, m);
    if (rc == -EAGAIN || rc == -ENOBUFS)
        return false;
    if (rc != 0) {
        // A worker that closed its channel has exited (it is reaped soon) and sends nothing.
        if (rc != -EPIPE && rc != -ECONNRESET)
            net::log::warn("{}", net::sys_error("send upstream_set", fmt::format("worker pid {}", w.pid), -rc));
        return true;
    }
    for (const std::string& a : s->addresses)
        if (std::none_of(w.known.begin(), w.known.end(),
                         [&](const known_address& k) { return k.upstream == name && k.address == a; }))
            w.known.push_back({std::string(name), a});
    return true;
}

void address_sets::on_drained(pid_t pid, const ipc::upstream_note& note)
{
    const auto w = std::find_if(workers_.begin(), workers_.end(), [&](const worker& x) { return x.pid == pid; });
    if (w == workers_.end())
        return;
    std::vector<ipc::upstream_address> addresses;
    std::string error;
    if (note.upstream >= w->upstreams.size() || !ipc::read_upstream_note(note, addresses, error) ||
        addresses.size() != 1) {
        net::log::warn("worker pid {}: upstream_drained for upstream {} not understood{}{}", pid, note.upstream,
                       error.empty() ? "" : ": ", error);
        return;
    }
    const std::string& name = w->upstreams[note.upstream];
    std::erase_if(w->known, [&](const known_address& k) { return k.upstream == name && k.address == addresses[0].text; });
}

std::vector<pid_t> address_sets::users(std::string_view name, std::string_view address) const
{
    std::vector<pid_t> out;
    for (const worker& w : workers_)
        if (std::any_of(w.known.begin(), w.known.end(),
                        [&](const known_address& k) { return k.upstream == name && k.address == address; }))
            out.push_back(w.pid);
    return out;
}

std::string_view address_sets::upstream_name(pid_t pid, std::uint32_t index) const noexcept
{
    const auto w = std::find_if(workers_.begin(), workers_.end(), [&](const worker& x) { return x.pid == pid; });
    return w == workers_.end() || index >= w->upstreams.size() ? std::string_view() : w->upstreams[index];
}

void address_sets::retry()
{
    for (worker& w : workers_)
        std::erase_if(w.pending, [&](const std::string& name) { return send(w, name); });
}

bool address_sets::retry_pending() const noexcept
{
    return std::any_of(workers_.begin(), workers_.end(), [](const worker& w) { return !w.pending.empty(); });
}

} // namespace ringfork::master
