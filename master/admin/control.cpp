// The master's control socket.
//
// Like the admin listener, every socket is non-blocking and bounded: a request line is at
// most 256 bytes, a connection carries one request and one reply and is closed on the
// deadlines of control_server::limits, so a client that never reads cannot stall the
// master and idle clients cannot keep `ringfork ctl` out. After the reply the write side
// is shut and what the client still sends is read and dropped, so an over-long line gets
// its error line, not a reset.
#include "master/admin/control.hpp"

#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "ipc/control.hpp"
#include "net/error.hpp"
#include "net/log.hpp"
#include "net/unix_address.hpp"

namespace ringfork::master {

namespace {

/// True when something accepts connections at `sa` (a live server).
bool answers(const net::unix_address& sa)
{
    net::unique_fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!probe)
        return false;
    // EAGAIN: a live listener with a full backlog is still live.
    return ::connect(probe.get(), sa.get(), sa.length) == 0 || errno == EAGAIN;
}

} // namespace

bool control_server::open(const std::string& path, std::string& error)
{
    const std::optional<net::unix_address> sa = net::make_unix_address(path);
    if (!sa) {
        error = fmt::format("control socket {}: path empty or longer than {} bytes", path, net::unix_path_max);
        return false;
    }
    if (struct stat st{}; ::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            error = fmt::format("control socket {}: exists and is not a socket; not replacing it", path);
            return false;
        }
        if (answers(*sa)) {
            error = fmt::format("control socket {}: a running server answers there; not taking it over", path);
            return false;
        }
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
            error = net::sys_error("unlink(stale control socket)", path, errno);
            return false;
        }
    }
    net::unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        error = net::sys_error("socket(AF_UNIX)", path, errno);
        return false;
    }
    // The umask makes the file 0600 from the moment it exists; the master is single-threaded.
    const mode_t old = ::umask(0177);
    const int rc = ::bind(fd.get(), sa->get(), sa->length);
    const int bind_errno = errno;
    ::umask(old);
    if (rc != 0) {
        error = net::sys_error("bind", path, bind_errno);
        return false;
    }
    struct stat st{};
    if (::listen(fd.get(), backlog) != 0 || ::lstat(path.c_str(), &st) != 0) {
        error = net::sys_error("listen", path, errno);
        ::unlink(path.c_str());
        return false;
    }
    table_.listener = std::move(fd);
    path_ = path;
    dev_ = st.st_dev;
    ino_ = st.st_ino;
    return true;
}

void control_server::adopt(int fd, const std::string& path)
{
    table_.listener.reset(fd);
    path_ = path;
    if (struct stat st{}; ::lstat(path.c_str(), &st) == 0) {
        dev_ = st.st_dev;
        ino_ = st.st_ino;
    }
}

void control_server::release()
{
    table_.conns.clear();
    table_.listener.reset();
    path_.clear();
}

void control_server::add(std::string_view name, control_command command)
{
    auto it = std::find_if(commands_.begin(), commands_.end(), [&](const auto& c) { return c.first == name; });
    if (it != commands_.end())
        it->second = std::move(command);
    else
        commands_.emplace_back(std::string(name), std::move(command));
}

control_reply control_server::dispatch(std::string_view line) const
{
    while (!line.empty() && (line.back() == '\r' || line.back() == ' '))
        line.remove_suffix(1);
    const auto sp = line.find(' ');
    const std::string_view name = line.substr(0, sp);
    std::string_view argument = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    while (!argument.empty() && argument.front() == ' ')
        argument.remove_prefix(1);
    for (const auto& [n, command] : commands_)
        if (n == name)
            return command(argument);
    std::string known;
    for (const auto& c : commands_)
        known += (known.empty() ? "" : ", ") + c.first;
    return {false, fmt::format("unknown command '{}' (known: {})", name, known)};
}

void control_server::handle(std::span<const pollfd> fds, std::uint64_t now_ms)
{
    table_.handle(fds, now_ms, "control " + path_, [&](connection& c, short ev) {
        if (ev & POLLOUT)
            flush(c, now_ms);
        else
            on_readable(c, now_ms);
    });
}

void control_server::close()
{
    table_.conns.clear();
    if (!table_.listener)
        return;
    table_.listener.reset();
    // Only our own file: a successor may already have replaced a socket we thought stale.
    if (struct stat st{}; ::lstat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
        ::unlink(path_.c_str());
}

void control_server::on_readable(connection& c, std::uint64_t now_ms)
{
    char buf[ipc::control::max_request + 1];
    const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf - c.in.size(), MSG_DONTWAIT);
    if (n < 0) {
        c.dead = errno != EAGAIN && errno != EINTR;
        return;
    }
    if (n == 0 && c.in.empty()) {
        c.dead = true;
        return;
    }
    if (n > 0) {
        c.in.append(buf, std::size_t(n));
        table_.received(c, now_ms);
    }
    const auto nl = c.in.find('\n');
    control_reply reply;
    if (nl != std::string::npos)
        reply = dispatch(std::string_view(c.in).substr(0, nl));
    else if (c.in.size() > ipc::control::max_request)
        reply = {false, fmt::format("request longer than {} bytes", ipc::control::max_request)};
    else if (n > 0)
        return; // wait for the rest of the line
    else
        reply = dispatch(c.in); // EOF without a newline: take the line as it is
    c.out = reply.ok ? std::string(ipc::control::ok_line) + reply.body
                     : fmt::format("{}{}\n", ipc::control::error_prefix, reply.body);
    flush(c, now_ms);
}

void control_server::flush(connection& c, std::uint64_t now_ms)
{
    if (table_.send_queued(c, now_ms))
        table_.close_after_reply(c, now_ms); // one request per connection: the close ends the reply
}

} // namespace ringfork::master
