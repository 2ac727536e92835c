// Binary upgrade (USR2, ctl upgrade), socket activation and service-manager notification.
//
// The old master forks and execs the binary at its path with its listening sockets (and
// the control and admin sockets) inherited, named in RINGFORK_UPGRADE, plus one end of a
// handover socket. The new master starts its workers on the same sockets, writes the pid
// file and says "ready"; only then does the old master drain its own workers and exit,
// sending its final totals so no count is lost. If the new master dies or is not ready in
// time, the old one logs why and keeps serving: the sockets were never closed.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "ipc/handover.hpp"
#include "master/supervise/supervisor.hpp"
#include "ipc/app_spec.hpp"
#include "net/clock.hpp"
#include "net/error.hpp"
#include "net/log.hpp"
#include "net/socket.hpp"
#include "net/unix_address.hpp"

namespace ringfork::master {

namespace {



std::vector<int> parse_fd_list(std::string_view s)
{
    std::vector<int> out;
    while (!s.empty()) {
        const auto comma = s.find(',');
        const std::string_view item = s.substr(0, comma);
        int fd = -1;
        if (std::from_chars(item.data(), item.data() + item.size(), fd).ec == std::errc{} && fd >= 0)
            out.push_back(fd);
        if (comma == std::string_view::npos)
            break;
        s.remove_prefix(comma + 1);
    }
    return out;
}

/// "key=value;key=value" lookup.
std::string_view field(std::string_view spec, std::string_view key)
{
    while (!spec.empty()) {
        const auto semi = spec.find(';');
        const std::string_view item = spec.substr(0, semi);
        if (item.starts_with(key) && item.size() > key.size() && item[key.size()] == '=')
            return item.substr(key.size() + 1);
        if (semi == std::string_view::npos)
            break;
        spec.remove_prefix(semi + 1);
    }
    return {};
}

void adopt_fd(int fd)
{
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

} // namespace

void supervisor::notify(std::string_view state) const
{
    // sd_notify(3)'s protocol: one datagram to $NOTIFY_SOCKET, a path or "@" and an
    // abstract name.
    const char* env = std::getenv("NOTIFY_SOCKET");
    if (!env || !*env)
        return;
    const std::string_view path = env;
    const std::optional<net::unix_address> sa =
        path.front() == '@' ? net::make_abstract_unix_address(path.substr(1)) : net::make_unix_address(path);
    if (!sa) {
        net::log::warn("NOTIFY_SOCKET {}: empty or longer than {} bytes", path, net::unix_path_max);
        return;
    }
    const net::unique_fd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const std::string message = fmt::format("{}\nMAINPID={}", state, getpid());
    if (!fd || ::sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL, sa->get(), sa->length) < 0)
        net::log::warn("{}", net::sys_error("sendto", fmt::format("NOTIFY_SOCKET {}", path), errno));
}

void supervisor::announce_ready()
{
    net::log::info("ready: {} workers serving", slots_.size());
    notify("READY=1");
    run_hooks(&ringfork::detail::app_spec::on_ready);
    if (predecessor_fd_) {
        write_pid_file();
        send_handover(predecessor_fd_.get(), 2);
    }
}

ipc::worker_stats supervisor::totals() const
{
    ipc::worker_stats t = exited_totals_;
    t.merge(inherited_);
    for (const worker_proc& w : workers_)
        t.merge(w.last);
    return t;
}

void supervisor::send_handover(int fd, std::uint8_t type)
{
    ipc::handover_message m;
    m.type = static_cast<ipc::handover_type>(type);
    m.pid = getpid();
    m.reloads = reloads_;
    m.upgrades = upgrades_;
    m.respawns = respawns_ + inherited_respawns_;
    m.totals = totals();
    m.totals.connections_open = 0;
    (void)::send(fd, &m, sizeof m, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void supervisor::start_upgrade()
{
    if (stopping_ || handed_over_ || successor_) {
        net::log::warn("upgrade: {}", successor_ ? "one is already in progress" : "this master is stopping");
        return;
    }
    if (exe_path_.empty()) {
        net::log::error("upgrade failed: the binary's path is unknown; still serving");
        return;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        net::log::error("upgrade failed: {}", net::sys_error("socketpair", "handover", errno));
        return;
    }
    // Which descriptors go across exec, in --listen order (reuseport: one per slot).
    std::vector<int> passed{sv[1]};
    std::string listen;
    for (std::size_t a = 0; a < opts_.listen.size(); ++a) {
        listen += a ? "|" : "";
        std::string group;
        auto add = [&](int fd) {
            group += group.empty() ? "" : ",";
            group += std::to_string(fd);
            passed.push_back(fd);
        };
        if (opts_.accept == accept_mode::shared)
            add(shared_listeners_[a].get());
        else
            for (const slot& s : slots_)
                if (a < s.listeners.size())
                    add(s.listeners[a].get());
        listen += group;
    }
    std::string spec = fmt::format("fd={};listen={}", sv[1], listen);
    if (control_.listener_fd() >= 0) {
        spec += fmt::format(";control={}", control_.listener_fd());
        passed.push_back(control_.listener_fd());
    }
    if (admin_.listener_fd() >= 0) {
        spec += fmt::format(";admin={}", admin_.listener_fd());
        passed.push_back(admin_.listener_fd());
    }
    std::vector<char*> args;
    for (auto& a : argv_)
        args.push_back(a.data());
    args.push_back(nullptr);
    const pid_t pid = fork();
    if (pid < 0) {
        net::log::error("upgrade failed: {}", net::sys_error("fork", "new master", errno));
        ::close(sv[0]);
        ::close(sv[1]);
        return;
    }
    if (pid == 0) {
        for (int fd : passed)
            fcntl(fd, F_SETFD, 0);
        setenv("RINGFORK_UPGRADE", spec.c_str(), 1);
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_PID");
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        execv(exe_path_.c_str(), args.data());
        const std::string line = net::sys_error("execv", exe_path_, errno) + "\n";
        (void)!::write(2, line.data(), line.size());
        _exit(127);
    }
    ::close(sv[1]);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    successor_ = pid;
    successor_fd_.reset(sv[0]);
    successor_deadline_ms_ = net::monotonic_ms() + static_cast<std::uint64_t>(opts_.upgrade_timeout_s * 1000);
    next_handover_ms_ = 0;
    send_handover(successor_fd_.get(), 1);
    net::log::info("upgrade: started new master {} from {}", pid, exe_path_);
}

void supervisor::on_successor_message()
{
    ipc::handover_message m;
    for (;;) {
        const ssize_t n = ::recv(successor_fd_.get(), &m, sizeof m, MSG_DONTWAIT);
        if (n == 0) {
            successor_fd_.reset(); // the successor exited; reap() says how
            return;
        }
        if (n != static_cast<ssize_t>(sizeof m) || m.version != ipc::handover_version)
            return;
        if (m.type == ipc::handover_type::ready && !handed_over_) {
            net::log::info("upgrade: new master {} is ready; draining this master's workers", m.pid);
            handed_over_ = true;
            successor_deadline_ms_ = 0;
            control_.release(); // the successor serves the control and admin sockets now
            admin_.close();
            begin_stop(true);
        }
    }
}

void supervisor::on_predecessor_message()
{
    ipc::handover_message m;
    for (;;) {
        const ssize_t n = ::recv(predecessor_fd_.get(), &m, sizeof m, MSG_DONTWAIT);
        if (n == 0) {
            predecessor_fd_.reset(); // the old master is gone; its last totals stay in inherited_
            net::log::info("upgrade: the old master has exited");
            return;
        }
        if (n != static_cast<ssize_t>(sizeof m) || m.version != ipc::handover_version)
            return;
        if (m.type == ipc::handover_type::totals) {
            inherited_ = m.totals;
            reloads_ = std::max(reloads_, m.reloads);
            upgrades_ = std::max(upgrades_, m.upgrades + 1);
            inherited_respawns_ = m.respawns;
        }
    }
}

bool supervisor::adopt_activated_listeners()
{
    // sd_listen_fds(3): descriptors 3..3+LISTEN_FDS-1, meant for this pid only.
    const char* fds = std::getenv("LISTEN_FDS");
    const char* pid = std::getenv("LISTEN_PID");
    int n = 0;
    long owner = 0;
    if (!fds || !pid || std::from_chars(fds, fds + std::strlen(fds), n).ec != std::errc{} ||
        std::from_chars(pid, pid + std::strlen(pid), owner).ec != std::errc{} || owner != getpid() || n <= 0)
        return false;
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDNAMES");
    // One socket per address, shared by every worker: the service manager owns them.
    opts_.accept = accept_mode::shared;
    opts_.worker.shared_accept = true;
    opts_.listen.clear();
    for (int fd = 3; fd < 3 + n; ++fd) {
        adopt_fd(fd);
        auto addr = net::local_address(fd);
        if (!addr) {
            net::log::warn("{}", net::sys_error("getsockname", fmt::format("LISTEN_FDS fd={}", fd), errno));
            continue;
        }
        opts_.listen.push_back(*addr);
        shared_listeners_.emplace_back(fd);
    }
    net::log::info("socket activation: {} listening sockets from the service manager", shared_listeners_.size());
    return !shared_listeners_.empty();
}

// The new master's listeners: inherited from an upgrading master (RINGFORK_UPGRADE) or
// from the service manager (LISTEN_FDS, as shared listeners), else bound here.
bool supervisor::inherit_listeners(std::string& error)
{
    const std::string spec = std::getenv("RINGFORK_UPGRADE");
    unsetenv("RINGFORK_UPGRADE"); // a later upgrade from this master builds its own
    const std::vector<int> handover = parse_fd_list(field(spec, "fd"));
    if (handover.size() != 1) {
        error = fmt::format("RINGFORK_UPGRADE: no handover descriptor in '{}'", spec);
        return false;
    }
    adopt_fd(handover[0]);
    fcntl(handover[0], F_SETFL, O_NONBLOCK);
    predecessor_fd_.reset(handover[0]);
    std::string_view groups = field(spec, "listen");
    for (std::size_t a = 0; a < opts_.listen.size(); ++a) {
        const auto bar = groups.find('|');
        const std::vector<int> fds = parse_fd_list(groups.substr(0, bar));
        groups = bar == std::string_view::npos ? std::string_view() : groups.substr(bar + 1);
        if (fds.empty()) {
            // A listener the old master did not have: bind it now, as at a fresh start.
            net::unique_fd fd = net::make_listener(opts_.listen[a], {opts_.accept == accept_mode::reuseport, 4096}, error);
            if (!fd)
                return false;
            if (opts_.accept == accept_mode::shared)
                shared_listeners_.push_back(std::move(fd));
            else
                slots_[0].listeners.push_back(std::move(fd));
            continue;
        }
        for (int fd : fds)
            adopt_fd(fd);
        opts_.listen[a] = *net::local_address(fds[0]);
        if (opts_.accept == accept_mode::shared) {
            shared_listeners_.emplace_back(fds[0]);
            for (std::size_t i = 1; i < fds.size(); ++i)
                ::close(fds[i]);
            continue;
        }
        for (std::size_t i = 0; i < slots_.size(); ++i) {
            if (i < fds.size()) {
                slots_[i].listeners.emplace_back(fds[i]);
                continue;
            }
            net::unique_fd fd = net::make_listener(opts_.listen[a], {}, error);
            if (!fd)
                return false;
            slots_[i].listeners.push_back(std::move(fd));
        }
        for (std::size_t i = slots_.size(); i < fds.size(); ++i)
            ::close(fds[i]); // fewer slots now; the group keeps the others
    }
    for (const char* key : {"control", "admin"}) {
        const std::vector<int> fd = parse_fd_list(field(spec, key));
        if (fd.size() == 1) {
            adopt_fd(fd[0]);
            (std::string_view(key) == "control" ? inherited_control_fd_ : inherited_admin_fd_) = fd[0];
        }
    }
    net::log::info("upgrade: inherited {} listening sockets from the old master", opts_.listen.size());
    return true;
}

} // namespace ringfork::master
