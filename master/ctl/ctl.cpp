// `ringfork ctl` and `ringfork top`: clients of the master's control socket.
#include "master/ctl/ctl.hpp"

#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "ipc/control.hpp"
#include "net/error.hpp"
#include "net/fd.hpp"
#include "net/unix_address.hpp"

namespace ringfork::master {

namespace {

constexpr std::size_t max_answer = 16u << 20;

volatile std::sig_atomic_t top_quit = 0;
volatile std::sig_atomic_t top_resized = 0;

/// Truncates a UTF-8 line to `cols` code points (every glyph used here is one column).
std::string fit(std::string_view line, unsigned cols)
{
    std::size_t i = 0;
    for (unsigned seen = 0; i < line.size(); ++i)
        if ((static_cast<unsigned char>(line[i]) & 0xC0) != 0x80 && seen++ == cols)
            break;
    return std::string(line.substr(0, i));
}

double monotonic_s()
{
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

unsigned terminal_columns()
{
    winsize ws{};
    return ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 100;
}

/// Common flags of ctl and top; returns false with `error` set on a bad one.
struct client_args {
    std::optional<std::string> control = default_control_path();
    bool json = false;
    double interval_s = 1.0;
    std::vector<std::string> rest;
};

bool parse_client_args(std::span<const char* const> args, client_args& out, std::string& error)
{
    for (std::size_t i = 0; i < args.size(); ++i) {
        std::string_view a = args[i];
        std::string_view value;
        const bool has_eq = a.starts_with("--") && a.find('=') != std::string_view::npos;
        if (has_eq) {
            value = a.substr(a.find('=') + 1);
            a = a.substr(0, a.find('='));
        }
        auto take = [&]() -> bool {
            if (has_eq)
                return true;
            if (i + 1 >= args.size())
                return false;
            value = args[++i];
            return true;
        };
        if (a == "--json") {
            out.json = true;
        } else if (a == "--control") {
            if (!take() || value.empty())
                return error = "--control: needs a path", false;
            out.control = std::string(value);
        } else if (a == "--interval") {
            double s = 0;
            if (!take() || std::from_chars(value.data(), value.data() + value.size(), s).ec != std::errc{} ||
                !(s >= 0.1 && s <= 60))
                return error = "--interval: needs seconds from 0.1 to 60", false;
            out.interval_s = s;
        } else if (a.starts_with("--")) {
            return error = fmt::format("{}: unknown option", a), false;
        } else {
            out.rest.emplace_back(a);
        }
    }
    if (!out.control)
        return error = "no control socket: pass --control PATH (the server's --control) or set RINGFORK_CONTROL", false;
    return true;
}

} // namespace

std::optional<std::string> default_control_path()
{
    if (const char* env = std::getenv("RINGFORK_CONTROL"); env && *env)
        return std::string(env);
    return std::nullopt;
}

namespace {

/// One attempt of control_request. `dropped`: the server closed the connection before
/// answering anything (it sheds connections that have not sent their line yet when its
/// table is full), so the request never ran and may be sent again.
std::optional<std::string> request_once(const net::unix_address& sa, const std::string& path, const std::string& line,
                                        std::string& error, bool& dropped)
{
    dropped = false;
    net::unique_fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd)
        return error = net::sys_error("socket(AF_UNIX)", path, errno), std::nullopt;
    const timeval tv{5, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(fd.get(), sa.get(), sa.length) != 0)
        return error = net::sys_error("connect", path, errno), std::nullopt;
    // Whoever can write in the socket's directory could put a listener of their own there:
    // talk only to a server run by root or by this user.
    ucred peer{};
    socklen_t peer_len = sizeof peer;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &peer, &peer_len) != 0)
        return error = net::sys_error("getsockopt(SO_PEERCRED)", path, errno), std::nullopt;
    if (peer.uid != 0 && peer.uid != ::geteuid())
        return error = fmt::format("control socket {}: served by uid {}, neither root nor this user; not sending "
                                   "it anything",
                                   path, peer.uid),
               std::nullopt;
    const std::string request = line + "\n";
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) {
        dropped = errno == EPIPE || errno == ECONNRESET;
        return error = net::sys_error("send", path, errno), std::nullopt;
    }
    std::string answer;
    char buf[16384];
    for (;;) {
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            dropped = errno == ECONNRESET && answer.empty();
            return error = net::sys_error("recv", path, errno), std::nullopt;
        }
        answer.append(buf, std::size_t(n));
        if (answer.size() > max_answer)
            return error = fmt::format("control socket {}: answer larger than {} bytes", path, max_answer),
                   std::nullopt;
    }
    if (answer.empty()) {
        dropped = true;
        return error = fmt::format("control socket {}: closed without an answer", path), std::nullopt;
    }
    return answer;
}

} // namespace

std::optional<std::string> control_request(const std::string& path, const std::string& line, std::string& error)
{
    const std::optional<net::unix_address> sa = net::make_unix_address(path);
    if (!sa)
        return error = fmt::format("control socket {}: path empty or longer than {} bytes", path, net::unix_path_max),
               std::nullopt;
    std::optional<std::string> got;
    // A flood of idle clients can keep the table full of connections too young to give
    // way for a while: retry a dropped request with a growing pause, about 2.5 s in all.
    useconds_t pause = 50'000;
    for (int attempt = 0; attempt < 7; ++attempt) {
        bool dropped = false;
        got = request_once(*sa, path, line, error, dropped);
        if (got || !dropped)
            break;
        ::usleep(pause);
        pause = std::min<useconds_t>(pause * 2, 400'000);
    }
    if (!got)
        return std::nullopt;
    const std::string& answer = *got;
    if (answer.starts_with(ipc::control::ok_line))
        return answer.substr(ipc::control::ok_line.size());
    if (answer.starts_with(ipc::control::error_prefix)) {
        error = answer.substr(ipc::control::error_prefix.size());
        while (!error.empty() && error.back() == '\n')
            error.pop_back();
    } else {
        error = fmt::format("control socket {}: unexpected answer", path);
    }
    return std::nullopt;
}

int run_ctl(std::span<const char* const> args)
{
    client_args a;
    std::string error;
    if (!parse_client_args(args, a, error) || a.rest.empty() || a.rest.size() > 2) {
        fmt::print(stderr, "ringfork ctl: {}\nusage: ringfork ctl [--control PATH] [--json] "
                           "stats|workers|apps|metrics|tasks|cancel ID|stop|reload|upgrade|scale N\n",
                   error.empty() ? "needs one command" : error);
        return 2;
    }
    std::string line = a.rest[0];
    if (a.rest.size() == 2)
        line += " " + a.rest[1];
    else if (a.json && (line == ipc::control::cmd_stats || line == ipc::control::cmd_workers ||
                        line == ipc::control::cmd_tasks || line == ipc::control::cmd_apps))
        line += " json";
    auto body = control_request(*a.control, line, error);
    if (!body) {
        fmt::print(stderr, "ringfork ctl: {}\n", error);
        return 1;
    }
    fmt::print("{}", *body);
    return 0;
}

std::string render_top(const stats_model& cur, const stats_model* prev, double dt_s,
                       const std::vector<double>& history, unsigned cols)
{
    const ipc::worker_stats& t = cur.totals;
    const bool rates = prev && dt_s > 0;
    auto rate = [&](std::uint64_t now, std::uint64_t before) {
        return rates && now >= before ? static_cast<double>(now - before) / dt_s : 0.0;
    };
    // Latency over the last interval: the difference of two cumulative histograms.
    ipc::latency_histogram recent = t.latency;
    if (prev)
        for (std::size_t i = 0; i < ipc::latency_buckets; ++i)
            recent.counts[i] -= std::min(recent.counts[i], prev->totals.latency.counts[i]);
    const double rps = prev ? rate(t.requests, prev->totals.requests) : 0;
    std::vector<std::string> lines;
    lines.push_back(fmt::format("ringfork {}  master {}  up {}  workers {}/{}  respawns {}  reloads {}{}",
                                cur.master.version, cur.master.pid, format_duration(cur.master.uptime_s),
                                cur.workers.size(), cur.master.slots, cur.master.respawns, cur.master.reloads,
                                cur.master.stopping ? "  STOPPING" : ""));
    const auto in_rate = static_cast<std::uint64_t>(prev ? rate(t.bytes_in, prev->totals.bytes_in) : 0);
    const auto out_rate = static_cast<std::uint64_t>(prev ? rate(t.bytes_out, prev->totals.bytes_out) : 0);
    lines.push_back(fmt::format("req/s {:<9.0f} requests {:<11} open {:<7} 4xx {:<7} 5xx {:<7} in {}/s  out {}/s", rps,
                                t.requests, t.connections_open, t.responses_by_class[4], t.responses_by_class[5],
                                format_bytes(in_rate), format_bytes(out_rate)));
    lines.push_back(fmt::format("latency (last {:.1f} s)  p50 {}  p90 {}  p99 {}   max since start {}",
                                dt_s > 0 ? dt_s : 1,
                                format_latency(recent.quantile(0.5)), format_latency(recent.quantile(0.9)),
                                format_latency(recent.quantile(0.99)), format_latency(t.latency.max_us)));
    static constexpr const char* blocks[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    const double peak = history.empty() ? 0 : *std::max_element(history.begin(), history.end());
    std::string spark = "req/s ";
    const std::size_t width = cols > 20 ? cols - 20 : 1;
    for (std::size_t i = history.size() > width ? history.size() - width : 0; i < history.size(); ++i)
        spark += blocks[peak > 0 ? std::min<std::size_t>(7, static_cast<std::size_t>(history[i] / peak * 7.999)) : 0];
    lines.push_back(fmt::format("{}  peak {:.0f}", spark, peak));
    lines.emplace_back();
    lines.push_back(fmt::format("{:<5}{:<9}{:<5}{:<10}{:<9}{:>9}  {:<12}{:>11}{:>6}{:>9}{:>9}  {}", "SLOT", "PID",
                                "GEN", "STATE", "UPTIME", "REQ/S", "SHARE", "REQUESTS", "OPEN", "P99", "RESTARTS",
                                "LAST EXIT"));
    for (const worker_view& w : cur.workers) {
        double wr = 0;
        if (prev)
            for (const worker_view& p : prev->workers)
                if (p.pid == w.pid)
                    wr = rate(w.stats.requests, p.stats.requests);
        const auto bar = static_cast<std::size_t>(rps > 0 ? std::min(1.0, wr / rps) * 10 + 0.5 : 0);
        lines.push_back(fmt::format("{:<5}{:<9}{:<5}{:<10}{:<9}{:>9.0f}  [{:<10}]{:>11}{:>6}{:>9}{:>9}  {}", w.slot,
                                    w.pid, w.generation, w.state, format_duration(w.uptime_s), wr, std::string(bar, '#'),
                                    w.stats.requests, w.stats.connections_open,
                                    format_latency(w.stats.latency.quantile(0.99)), w.restarts,
                                    w.last_exit.empty() ? "-" : w.last_exit));
    }
    std::string out;
    for (const auto& l : lines)
        out += fit(l, cols) + "\n";
    return out;
}

int run_top(std::span<const char* const> args)
{
    client_args a;
    std::string error;
    if (!parse_client_args(args, a, error) || !a.rest.empty()) {
        fmt::print(stderr, "ringfork top: {}\nusage: ringfork top [--control PATH] [--interval SECS]\n",
                   error.empty() ? "takes no command" : error);
        return 2;
    }
    const bool tty_out = isatty(STDOUT_FILENO), tty_in = isatty(STDIN_FILENO);
    struct sigaction sa{};
    sa.sa_handler = [](int) { top_quit = 1; };
    for (int s : {SIGINT, SIGTERM, SIGHUP})
        sigaction(s, &sa, nullptr);
    sa.sa_handler = [](int) { top_resized = 1; };
    sigaction(SIGWINCH, &sa, nullptr);
    termios saved{};
    if (tty_in && tcgetattr(STDIN_FILENO, &saved) == 0) {
        termios raw = saved;
        raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    }
    if (tty_out)
        fmt::print("\x1b[?1049h\x1b[?25l"); // alternate screen, hidden cursor
    std::optional<stats_model> prev;
    double prev_at = 0;
    std::vector<double> history;
    unsigned cols = tty_out ? terminal_columns() : 120;
    while (!top_quit) {
        if (top_resized) {
            top_resized = 0;
            cols = terminal_columns();
        }
        std::string frame;
        const auto body = control_request(*a.control, std::string(ipc::control::cmd_model), error);
        const double now = monotonic_s();
        std::optional<stats_model> cur = body ? decode_model(*body) : std::nullopt;
        if (cur) {
            // A different master pid (an upgrade or a restart) makes old rates meaningless.
            const stats_model* p = prev && prev->master.pid == cur->master.pid ? &*prev : nullptr;
            if (p) {
                const std::uint64_t done = cur->totals.requests - std::min(cur->totals.requests, p->totals.requests);
                history.push_back(static_cast<double>(done) / (now - prev_at));
                if (history.size() > 240)
                    history.erase(history.begin());
            }
            frame = render_top(*cur, p, p ? now - prev_at : 0, history, cols);
            prev = std::move(cur);
            prev_at = now;
        } else {
            frame = fmt::format("ringfork top: {}\nretrying every {:.1f} s\n", body ? "unreadable answer" : error,
                                a.interval_s);
        }
        if (tty_out) {
            std::string screen = "\x1b[H";
            for (std::size_t pos = 0, nl; (nl = frame.find('\n', pos)) != std::string::npos; pos = nl + 1)
                screen += frame.substr(pos, nl - pos) + "\x1b[K\r\n";
            screen += "\x1b[Jq quits";
            fmt::print("{}", screen);
        } else {
            fmt::print("{}\n", frame);
        }
        std::fflush(stdout);
        pollfd in{tty_in ? STDIN_FILENO : -1, POLLIN, 0};
        const double until = now + a.interval_s;
        for (double left = a.interval_s; left > 0 && !top_quit && !top_resized; left = until - monotonic_s()) {
            if (::poll(&in, 1, static_cast<int>(left * 1000) + 1) > 0 && (in.revents & POLLIN)) {
                char c = 0;
                if (::read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q' || c == 3))
                    top_quit = 1;
            }
        }
    }
    if (tty_out)
        fmt::print("\x1b[?25h\x1b[?1049l");
    if (tty_in)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    return 0;
}

} // namespace ringfork::master
