// The task broker: how a job ends. Jobs are in broker.cpp, runners in broker_runners.cpp.
//
// A job refused at the door (reject) is answered at once and never enters the table. Every
// other ending goes through end_job: judged from its runner's report, timed out, cancelled
// or crashed. It is counted and logged once, its final state written (or its files removed
// when nobody will read them), and for a submitter that waits the result record is
// delivered on the job's socket without blocking: what the socket does not take now is sent
// when poll() says it can, or dropped after a bound.
#include "master/tasks/broker.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <fmt/format.h>

#include "net/log.hpp"

namespace ringfork::master {

namespace {

/// A result the submitter does not read for this long is dropped.
constexpr std::uint64_t deliver_bound_ms = 30'000;

/// The final record on a job's socket: `rejected`, or `result`.
std::string result_bytes(const job_verdict& v, ipc::reject_reason why, int exit_code, int signal,
                         std::uint32_t elapsed_ms, std::uint64_t output_bytes)
{
    ipc::record_head head;
    head.type = v.outcome == ipc::job_outcome::rejected ? ipc::record_type::rejected : ipc::record_type::result;
    std::string out;
    if (head.type == ipc::record_type::rejected) {
        ipc::rejected_record r{why};
        head.length = sizeof r;
        out.assign(reinterpret_cast<const char*>(&head), sizeof head);
        out.append(reinterpret_cast<const char*>(&r), sizeof r);
        return out;
    }
    ipc::result_record r;
    r.outcome = v.outcome;
    r.timed_out = v.timed_out ? 1 : 0;
    r.exit_code = exit_code;
    r.signal = signal;
    r.elapsed_ms = elapsed_ms;
    r.output_bytes = output_bytes;
    ipc::set_text(r.reason, v.reason);
    head.length = sizeof r;
    out.assign(reinterpret_cast<const char*>(&head), sizeof head);
    out.append(reinterpret_cast<const char*>(&r), sizeof r);
    return out;
}

/// Drops the master's last copy of a job socket. Unread records in it (a body nobody ran)
/// would make the submitter's end report a reset instead of the records queued for it, so
/// its reading side is shut (no new ones) and emptied first. Only once no runner has it.
void release_job_socket(net::unique_fd& fd) noexcept
{
    if (!fd)
        return;
    (void)::shutdown(fd.get(), SHUT_RD);
    char sink[256];
    for (int i = 0; i < 4096 && ::recv(fd.get(), sink, sizeof sink, MSG_DONTWAIT | MSG_TRUNC) >= 0; ++i) {
    }
    fd.reset();
}

} // namespace

void broker::reject(const ipc::job_header& h, net::unique_fd socket, ipc::reject_reason why)
{
    const std::string_view id = ipc::text_of(h.id);
    job_end e;
    e.rejected = why;
    const job_verdict v = judge(e);
    net::log::info("task {} job {}: rejected ({})", ipc::text_of(h.name), id, v.reason);
    if ((h.flags & ipc::job_async) != 0 && ipc::valid_job_id(id))
        spool_->remove(id, ipc::spool::file::in); // its submitter answers 503: nobody runs it
    if (socket) {
        const std::string bytes = result_bytes(v, why, -1, 0, 0, 0);
        (void)::send(socket.get(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        release_job_socket(socket);
    }
}

void broker::end_job(job_key key, const job_end& e, std::uint64_t output_bytes, std::uint32_t elapsed_ms,
                     std::uint64_t now_ms)
{
    job* jp = find(key);
    if (jp == nullptr)
        return;
    job& j = *jp;
    job_verdict v = judge(e);
    if (j.state == phase::dispatched || j.state == phase::running) {
        counts_.ended(j.task);
        --busy_;
    }
    for (runner_proc& r : runners_)
        if (r.job == key)
            r.job = 0;
    if (j.started_ms != 0) {
        if (!e.reported)
            elapsed_ms = static_cast<std::uint32_t>(now_ms - j.started_ms);
        stats_.latency.record(std::uint64_t(elapsed_ms) * 1000);
    }
    switch (v.outcome) {
    case ipc::job_outcome::ok: ++stats_.ok; break;
    case ipc::job_outcome::failed: ++stats_.failed; break;
    case ipc::job_outcome::timed_out: ++stats_.timed_out; break;
    case ipc::job_outcome::cancelled: ++stats_.cancelled; break;
    case ipc::job_outcome::crashed: ++stats_.errors; break;
    case ipc::job_outcome::rejected: ++stats_.rejected; break;
    }
    const int exit_code = e.reported ? e.exit_code : -1;
    const int signal = e.signal; // reported, or the signal that ended its runner
    const std::string_view name = registry_.entries()[static_cast<std::size_t>(j.task)].name;
    if (j.waits && (j.client_gone || j.started_ms == 0)) {
        spool_->remove_job(j.id); // nobody will read it, or there is nothing to read
    } else {
        write_state(j, ipc::state_after(v.outcome), &v, output_bytes, elapsed_ms, exit_code, signal);
        if (!j.waits)
            spool_->remove(j.id, ipc::spool::file::in);
    }
    const std::string how = signal != 0 ? fmt::format("signal {}", signal) : fmt::format("exit {}", exit_code);
    net::log::info("task {} job {}: {} ({}), {} ms{}{}{}", name, j.id, outcome_name(v.outcome), how, elapsed_ms,
                   j.waits ? "" : ", async", v.reason.empty() ? "" : ": ", v.reason);
    if (j.waits)
        recent_.emplace_back(j.id, now_ms);
    if (j.waits && j.socket && !j.client_gone) {
        j.pending = result_bytes(v, e.rejected, exit_code, signal, elapsed_ms, output_bytes);
        j.state = phase::delivering;
        j.give_up_ms = now_ms + deliver_bound_ms;
        deliver(j, now_ms);
        return;
    }
    by_id_.erase(j.id);
    jobs_.erase(key);
}

void broker::deliver(job& j, std::uint64_t)
{
    while (!j.pending.empty()) {
        const ssize_t n = ::send(j.socket.get(), j.pending.data(), j.pending.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return; // polled for POLLOUT
        if (n <= 0)
            break; // the submitter is gone
        j.pending.erase(0, static_cast<std::size_t>(n));
    }
    release_job_socket(j.socket); // the runner is done with it
    const job_key key = j.key;
    by_id_.erase(j.id);
    jobs_.erase(key);
}

void broker::on_socket(job& j, short revents, std::uint64_t now_ms)
{
    if (j.state == phase::delivering) {
        if (revents & (POLLHUP | POLLERR))
            j.pending.clear(); // nobody to read it
        deliver(j, now_ms);
        return;
    }
    if (!(revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return;
    j.client_gone = true;
    j.socket.reset(); // the runner keeps its own copy for the body
    if (!j.cancel_on_close)
        return;
    net::log::info("task job {}: its client left; cancelling it", j.id);
    if (j.state == phase::queued) {
        queue_.remove(j.key);
        job_end e;
        e.killed = kill_reason::cancel;
        end_job(j.key, e, 0, 0, now_ms);
        return;
    }
    kill_job(j, kill_reason::cancel, now_ms);
}

} // namespace ringfork::master
