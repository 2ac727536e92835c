// The stats model's line format: what the control socket's "model" command sends to
// `ringfork ctl` and `ringfork top`, and how they read it back. A magic first line, then
// one space-separated record a line ("master", "totals", "worker"); a worker's free-text
// last exit comes last, after a tab.
#include "master/admin/stats_view.hpp"

#include <charconv>
#include <iterator>

#include <fmt/format.h>

#include "ipc/control.hpp"

namespace ringfork::master {

namespace {

using out_it = std::back_insert_iterator<std::string>;

/// Every serialised field of a snapshot, in wire order; S is worker_stats, const or not.
template <typename S, typename F> void for_each_field(S& s, F f)
{
    f(s.requests);
    for (auto& v : s.responses_by_class)
        f(v);
    for (auto& v : s.responses_by_status)
        f(v);
    f(s.bytes_in);
    f(s.bytes_out);
    f(s.connections_accepted);
    f(s.parse_errors);
    f(s.timeouts);
    f(s.tasks_submitted);
    f(s.tasks_rejected);
    f(s.connections_open);
    for (auto& v : s.latency.counts)
        f(v);
    f(s.latency.max_us);
    f(s.latency.sum_us);
}

/// Splits off the next space-separated token.
std::string_view next_token(std::string_view& line)
{
    const auto start = line.find_first_not_of(' ');
    if (start == std::string_view::npos) {
        line = {};
        return {};
    }
    line.remove_prefix(start);
    const auto end = line.find(' ');
    const std::string_view tok = line.substr(0, end);
    line.remove_prefix(end == std::string_view::npos ? line.size() : end);
    return tok;
}

template <typename T> bool read_number(std::string_view& line, T& v)
{
    const std::string_view tok = next_token(line);
    auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), v);
    return !tok.empty() && ec == std::errc{} && end == tok.data() + tok.size();
}

bool read_stats(std::string_view& line, ipc::worker_stats& s)
{
    bool ok = true;
    for_each_field(s, [&](auto& v) { ok = ok && read_number(line, v); });
    return ok;
}

void write_stats(out_it o, const ipc::worker_stats& s)
{
    for_each_field(s, [&](const auto& v) { fmt::format_to(o, " {}", v); });
}

} // namespace

std::string encode_model(const stats_model& m)
{
    std::string out;
    auto o = std::back_inserter(out);
    const master_view& ms = m.master;
    fmt::format_to(o, "{}\nmaster {} {} {} {} {} {} {} {}\ntotals", ipc::control::model_magic, ms.pid,
                   static_cast<std::uint64_t>(ms.uptime_s * 1000), ms.slots, ms.reloads, ms.upgrades, ms.respawns,
                   ms.stopping ? 1 : 0, ms.version.empty() ? "-" : ms.version);
    write_stats(o, m.totals);
    out += '\n';
    for (const auto& w : m.workers) {
        fmt::format_to(o, "worker {} {} {} {} {} {}", w.slot, w.pid, w.generation, w.state,
                       static_cast<std::uint64_t>(w.uptime_s * 1000), w.restarts);
        write_stats(o, w.stats);
        fmt::format_to(o, "\t{}\n", w.last_exit); // free text last, after a tab
    }
    return out;
}

std::optional<stats_model> decode_model(std::string_view text)
{
    stats_model m;
    bool magic = false, master = false, totals = false;
    while (!text.empty()) {
        const auto nl = text.find('\n');
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        if (!magic) {
            if (line != ipc::control::model_magic)
                return std::nullopt;
            magic = true;
            continue;
        }
        const std::string_view kind = next_token(line);
        std::uint64_t ms = 0;
        if (kind == "master") {
            unsigned stopping = 0;
            if (!read_number(line, m.master.pid) || !read_number(line, ms) || !read_number(line, m.master.slots) ||
                !read_number(line, m.master.reloads) || !read_number(line, m.master.upgrades) ||
                !read_number(line, m.master.respawns) || !read_number(line, stopping))
                return std::nullopt;
            m.master.uptime_s = static_cast<double>(ms) / 1000.0;
            m.master.stopping = stopping != 0;
            m.master.version = std::string(next_token(line));
            master = true;
        } else if (kind == "totals") {
            if (!read_stats(line, m.totals))
                return std::nullopt;
            totals = true;
        } else if (kind == "worker") {
            const auto tab = line.find('\t');
            if (tab == std::string_view::npos)
                return std::nullopt;
            worker_view w;
            w.last_exit = std::string(line.substr(tab + 1));
            line = line.substr(0, tab);
            if (!read_number(line, w.slot) || !read_number(line, w.pid) || !read_number(line, w.generation))
                return std::nullopt;
            w.state = std::string(next_token(line));
            if (!read_number(line, ms) || !read_number(line, w.restarts) || !read_stats(line, w.stats))
                return std::nullopt;
            w.uptime_s = static_cast<double>(ms) / 1000.0;
            m.workers.push_back(std::move(w));
        } else if (!kind.empty()) {
            return std::nullopt;
        }
    }
    if (!magic || !master || !totals)
        return std::nullopt;
    return m;
}

} // namespace ringfork::master
