// The task broker: jobs. How a job ends is in broker_outcome.cpp, runners in
// broker_runners.cpp.
//
// A job's life, decided here: submitted (queued record; an async job's state written),
// dispatched to an idle runner with the job socket attached (the master keeps its copy),
// started (state running, the timeout counts from now), then either done (the runner's
// report judged), timed out or cancelled (SIGTERM to its process group, SIGKILL after its
// grace), or crashed (its runner died), and ends through end_job.
#include "master/tasks/broker.hpp"

#include <sys/prctl.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

#include <fmt/format.h>

#include "master/tasks/children.hpp"
#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::master {

namespace {

/// A dispatched job whose runner has not said `started` by then: the runner is killed.
constexpr std::uint64_t start_bound_ms = 10'000;
/// After SIGKILL, a runner that has not reported the job's end by then is killed itself.
constexpr std::uint64_t report_bound_ms = 5'000;
/// An ended synchronous job's files are left to its worker for this long at most.
constexpr std::uint64_t recent_ms = 60'000;
/// Progress reaches the state file at most this often.
constexpr std::uint64_t progress_write_ms = 250;

std::uint64_t unix_ms()
{
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return std::uint64_t(ts.tv_sec) * 1000 + std::uint64_t(ts.tv_nsec) / 1'000'000;
}

std::vector<unsigned> concurrency_limits(const task_registry& r)
{
    std::vector<unsigned> out;
    for (const task_entry& e : r.entries())
        out.push_back(e.limits.concurrency);
    return out;
}

} // namespace

broker::broker(task_pool_settings settings)
    : settings_(std::move(settings)), registry_(settings_), queue_(settings_.queue),
      counts_(concurrency_limits(registry_))
{
}

broker::~broker() = default;

bool broker::open(std::string& error)
{
    spool_ = ipc::spool::open(settings_.spool, settings_.owner, error);
    if (!spool_)
        return false;
    // Processes that escape a runner killed mid-job come to the master, which kills them
    // (see kill_unknown_children), instead of living on under init.
    if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0)
        net::log::warn("{}", net::sys_error("prctl(PR_SET_CHILD_SUBREAPER)", "master", errno));
    return true;
}

void broker::add_pollfds(std::vector<pollfd>& fds)
{
    polled_.clear();
    for (const runner_proc& r : runners_) {
        if (!r.channel)
            continue;
        fds.push_back({r.channel.get(), POLLIN, 0});
        polled_.push_back({poll_entry::kind::runner, static_cast<std::uint64_t>(r.pid)});
    }
    for (const auto& [key, j] : jobs_) {
        if (!j.socket)
            continue;
        short events = 0;
        if (!j.pending.empty())
            events |= POLLOUT;
        else if (j.waits && !j.client_gone)
            events |= POLLRDHUP; // the submitter leaving; never its body, which is the runner's
        if (events == 0)
            continue;
        fds.push_back({j.socket.get(), events, 0});
        polled_.push_back({poll_entry::kind::job, key});
    }
}

void broker::handle(std::span<const pollfd> polled, std::uint64_t now_ms)
{
    const auto rest = polled;
    for (std::size_t i = 0; i < rest.size() && i < polled_.size(); ++i) {
        if (!rest[i].revents)
            continue;
        const poll_entry& e = polled_[i];
        if (e.what == poll_entry::kind::runner) {
            if (runner_proc* r = runner_by_pid(static_cast<pid_t>(e.key)); r && r->channel.get() == rest[i].fd)
                read_runner(*r, now_ms);
        } else if (job* j = find(e.key); j && j->socket.get() == rest[i].fd) {
            on_socket(*j, rest[i].revents, now_ms);
        }
    }
    dispatch(now_ms);
}

void broker::submit(const ipc::job_header& h, net::unique_fd socket, std::uint64_t now_ms)
{
    ++stats_.submitted;
    const std::string id(ipc::text_of(h.id));
    if (!ipc::valid_job_id(id) || by_id_.contains(id)) {
        net::log::warn("task job '{}': invalid or duplicate job id, dropped", id);
        ++stats_.errors;
        return; // the submitter sees its socket closed
    }
    const int task = registry_.index_of(ipc::text_of(h.name));
    if (task < 0) {
        ++stats_.unknown_task;
        reject(h, std::move(socket), ipc::reject_reason::unknown_task);
        return;
    }
    if (stopping_ || queue_.full()) {
        ++stats_.rejected;
        reject(h, std::move(socket), stopping_ ? ipc::reject_reason::shutting_down : ipc::reject_reason::queue_full);
        return;
    }
    const job_key key = next_key_++;
    job& j = jobs_[key];
    j.key = key;
    j.id = id;
    j.task = task;
    j.header = h;
    j.waits = (h.flags & ipc::job_async) == 0;
    j.cancel_on_close = j.waits && (h.flags & ipc::job_cancel_on_close) != 0;
    j.submitted_ms = now_ms;
    j.submitted_unix_ms = unix_ms();
    by_id_[id] = key;
    if (!j.waits) {
        // Nobody waits on the socket: the state in the spool is the answer from now on,
        // there before the submitter hears `queued`.
        write_state(j, ipc::job_state::queued, nullptr, 0, 0, -1, 0);
    }
    if (socket)
        (void)ipc::send_record(socket.get(), ipc::record_type::queued, {});
    if (j.waits)
        j.socket = std::move(socket);
    (void)queue_.push(key, task, j.waits, now_ms);
}

void broker::dispatch(std::uint64_t now_ms)
{
    if (fast_stop_)
        return;
    for (runner_proc& r : runners_) {
        if (r.state != runner_state::idle || !r.channel)
            continue;
        const auto key = queue_.take([&](int task) { return counts_.can_start(task); });
        if (!key)
            return;
        job& j = jobs_.at(*key);
        ipc::runner_message m;
        m.type = ipc::runner_msg::run_job;
        m.job = j.header;
        ipc::set_text(m.id, j.id);
        if (const int rc = ipc::send_runner_message(r.channel.get(), m, j.waits ? j.socket.get() : -1); rc != 0) {
            net::log::warn("{}", net::sys_error("send", fmt::format("run_job to task runner {}", r.index), -rc));
            queue_.put_back(*key, j.task, j.waits, j.submitted_ms);
            r.state = runner_state::retiring;
            r.expected_exit = false;
            ::kill(r.pid, SIGKILL);
            continue;
        }
        r.state = runner_state::busy;
        r.job = *key;
        j.state = phase::dispatched;
        j.runner = static_cast<int>(r.pid);
        j.abandon_at_ms = now_ms + start_bound_ms;
        counts_.started(j.task);
        ++busy_;
    }
}

void broker::on_started(job& j, pid_t pgid, std::uint64_t now_ms)
{
    j.state = phase::running;
    j.pgid = pgid;
    j.started_ms = now_ms;
    j.started_unix_ms = unix_ms();
    j.abandon_at_ms = 0;
    const task_limits l = limits_of(j);
    j.deadline_ms = now_ms + l.timeout_ms;
    ++stats_.started;
    write_state(j, ipc::job_state::running, nullptr, 0, 0, -1, 0);
    j.progress_written_ms = now_ms;
    if (j.killed != kill_reason::none) {
        // Cancelled while on its way to the runner.
        signal_job(j, SIGTERM);
        j.kill_at_ms = now_ms + l.grace_ms;
    }
}

task_limits broker::limits_of(const job& j) const noexcept
{
    return job_limits(registry_.entries()[static_cast<std::size_t>(j.task)], j.header);
}

void broker::signal_job(job& j, int sig)
{
    const task_entry& t = registry_.entries()[static_cast<std::size_t>(j.task)];
    // A function job's process group is its runner's: ending the job ends the runner.
    const pid_t group = t.function ? static_cast<pid_t>(j.runner) : j.pgid;
    if (group > 0)
        ::kill(-group, sig);
}

void broker::kill_job(job& j, kill_reason why, std::uint64_t now_ms)
{
    if (j.killed != kill_reason::none && why != kill_reason::shutdown)
        return;
    j.killed = why;
    if (j.state != phase::running)
        return; // dispatched: on_started signals it
    if (why == kill_reason::shutdown) {
        signal_job(j, SIGKILL);
        j.kill_at_ms = 0;
        j.abandon_at_ms = now_ms + report_bound_ms;
        return;
    }
    signal_job(j, SIGTERM);
    j.kill_at_ms = now_ms + limits_of(j).grace_ms;
}

ipc::cancel_result broker::cancel(std::string_view id, std::uint64_t now_ms, std::string& what)
{
    job* j = find(id);
    if (j == nullptr) {
        const auto st = ipc::valid_job_id(id) ? spool_->read_state(id) : std::nullopt;
        if (!st) {
            what = "no such job";
            return ipc::cancel_result::unknown;
        }
        what = fmt::format("already {}", ipc::state_name(st->state));
        return ipc::ended(st->state) ? ipc::cancel_result::ended : ipc::cancel_result::unknown;
    }
    switch (j->state) {
    case phase::queued: {
        net::log::info("task job {}: cancelled while queued", j->id);
        queue_.remove(j->key);
        job_end e;
        e.killed = kill_reason::cancel;
        end_job(j->key, e, 0, 0, now_ms);
        what = "cancelled: it was queued and will not run";
        return ipc::cancel_result::cancelled;
    }
    case phase::dispatched:
    case phase::running:
        net::log::info("task job {}: cancelling", j->id);
        kill_job(*j, kill_reason::cancel, now_ms);
        what = "cancelling: SIGTERM now, SIGKILL after its grace";
        return ipc::cancel_result::cancelling;
    case phase::delivering: break;
    }
    what = "already ended";
    return ipc::cancel_result::ended;
}

bool broker::on_worker_packet(std::span<const char> packet, net::unique_fd fd, std::uint64_t now_ms)
{
    if (!ipc::is_worker_task_message(packet.data(), packet.size()))
        return false;
    ipc::worker_task_message m;
    std::memcpy(&m, packet.data(), sizeof m);
    if (!fd) {
        net::log::warn("task message from a worker without its socket: dropped");
        return true;
    }
    if (m.type == ipc::worker_task_msg::job_submit) {
        submit(m.job, std::move(fd), now_ms);
        dispatch(now_ms);
        return true;
    }
    std::string what;
    ipc::cancel_record r;
    r.result = cancel(ipc::text_of(m.job.id), now_ms, what);
    (void)ipc::send_record_of(fd.get(), ipc::record_type::cancel, r);
    return true;
}

void broker::write_state(const job& j, ipc::job_state state, const job_verdict* v, std::uint64_t output_bytes,
                         std::uint32_t elapsed_ms, std::int32_t exit_code, std::int32_t signal)
{
    ipc::job_state_record r;
    r.state = state;
    r.outcome = v ? v->outcome : ipc::job_outcome::ok;
    r.exit_code = exit_code;
    r.signal = signal;
    r.runner_pid = j.runner > 0 ? j.runner : 0;
    r.elapsed_ms = elapsed_ms;
    r.output_bytes = output_bytes;
    r.submitted_unix_ms = j.submitted_unix_ms;
    r.started_unix_ms = j.started_unix_ms;
    r.ended_unix_ms = ipc::ended(state) ? unix_ms() : 0;
    ipc::set_text(r.task, ipc::text_of(j.header.name));
    ipc::set_text(r.progress, j.progress);
    if (v)
        ipc::set_text(r.reason, v->reason);
    int rc = spool_->write_state(j.id, r);
    if ((rc == -ENOSPC || rc == -EDQUOT) && ipc::ended(state)) {
        // A job answered 202 must end readable: its own output goes to make room.
        for (const auto f : {ipc::spool::file::out, ipc::spool::file::err, ipc::spool::file::in})
            spool_->remove(j.id, f);
        if (r.state == ipc::job_state::done) {
            r.state = ipc::job_state::failed;
            r.outcome = ipc::job_outcome::failed;
        }
        ipc::set_text(r.reason, fmt::format("{}{}no space left in the spool: its output was removed",
                                            ipc::text_of(r.reason), ipc::text_of(r.reason).empty() ? "" : "; "));
        r.output_bytes = 0;
        rc = spool_->write_state(j.id, r);
    }
    if (rc != 0)
        net::log::error("task job {}: {}", j.id, net::sys_error("write", ipc::spool::name(j.id, ipc::spool::file::state), -rc));
}

void broker::check_jobs(std::uint64_t now_ms)
{
    for (const job_key key : queue_.take_expired(now_ms, settings_.queue_timeout_ms)) {
        job_end e;
        e.rejected = ipc::reject_reason::queue_timeout;
        end_job(key, e, 0, 0, now_ms);
    }
    std::vector<job_key> keys;
    for (const auto& [key, j] : jobs_)
        keys.push_back(key);
    for (const job_key key : keys) {
        job* jp = find(key);
        if (jp == nullptr)
            continue;
        job& j = *jp;
        if (j.state == phase::delivering) {
            if (now_ms >= j.give_up_ms) {
                by_id_.erase(j.id);
                jobs_.erase(key);
            }
            continue;
        }
        if (j.state == phase::running && j.killed == kill_reason::none && now_ms >= j.deadline_ms)
            kill_job(j, kill_reason::timeout, now_ms);
        if (j.kill_at_ms != 0 && now_ms >= j.kill_at_ms) {
            signal_job(j, SIGKILL);
            j.kill_at_ms = 0;
            j.abandon_at_ms = now_ms + report_bound_ms;
        }
        if (j.abandon_at_ms != 0 && now_ms >= j.abandon_at_ms) {
            // Its runner does not answer: it goes, and the job ends with it (on_exit).
            net::log::warn("task job {}: its runner (pid {}) does not answer; killing it", j.id, j.runner);
            if (runner_proc* r = runner_by_pid(static_cast<pid_t>(j.runner))) {
                r->expected_exit = true;
                ::kill(-r->pid, SIGKILL);
                ::kill(r->pid, SIGKILL);
            }
            j.abandon_at_ms = 0;
        }
        if (j.progress_dirty && j.state == phase::running && now_ms >= j.progress_written_ms + progress_write_ms) {
            write_state(j, ipc::job_state::running, nullptr, 0, 0, -1, 0);
            j.progress_dirty = false;
            j.progress_written_ms = now_ms;
        }
    }
    std::erase_if(recent_, [&](const auto& r) { return r.second + recent_ms <= now_ms; });
}

std::uint64_t broker::tick(std::uint64_t now_ms)
{
    check_jobs(now_ms);
    check_runners(now_ms);
    refill(now_ms);
    dispatch(now_ms);
    std::uint64_t next = 0;
    auto soon = [&](std::uint64_t t) {
        if (t != 0)
            next = next == 0 ? t : std::min(next, t);
    };
    if (spool_ && now_ms >= next_sweep_ms_) {
        const std::uint64_t every = std::clamp<std::uint64_t>(settings_.ttl_s * 500ull, 1000, 10'000);
        next_sweep_ms_ = now_ms + every;
        (void)spool_->sweep({std::time(nullptr), settings_.ttl_s, settings_.spool_max},
                            [&](std::string_view id) { return live(id, now_ms); });
    }
    soon(next_sweep_ms_);
    if (known_children_ && now_ms >= next_stray_check_ms_) {
        next_stray_check_ms_ = now_ms + 5000;
        if (const std::size_t n = kill_unknown_children([&](pid_t p) { return known_children_(p) || runner_by_pid(p); })) {
            net::log::warn("killed {} process(es) left behind by task jobs", n);
            next_stray_check_ms_ = now_ms + 100; // their children come next
        }
    }
    soon(next_stray_check_ms_);
    soon(queue_.next_expiry(settings_.queue_timeout_ms));
    for (const auto& [key, j] : jobs_) {
        if (j.state == phase::running && j.killed == kill_reason::none)
            soon(j.deadline_ms);
        soon(j.kill_at_ms);
        soon(j.abandon_at_ms);
        soon(j.give_up_ms);
        if (j.progress_dirty)
            soon(j.progress_written_ms + progress_write_ms);
    }
    for (const runner_proc& r : runners_)
        soon(r.abandon_at_ms);
    if (respawn_at_ms_ > now_ms)
        soon(respawn_at_ms_);
    if (stopping_ && queue_.empty() && busy_ == 0) {
        // Wound down: idle runners are told to go (their channel closes).
        for (runner_proc& r : runners_)
            if (r.state == runner_state::idle || r.state == runner_state::starting)
                retire(r, now_ms);
    }
    return next;
}

void broker::stop(bool graceful, std::uint64_t now_ms)
{
    stopping_ = true;
    if (graceful) {
        (void)tick(now_ms);
        return;
    }
    fast_stop_ = true;
    for (const job_key key : queue_.keys()) {
        queue_.remove(key);
        job_end e;
        e.rejected = ipc::reject_reason::shutting_down;
        end_job(key, e, 0, 0, now_ms);
    }
    for (auto& [key, j] : jobs_)
        if (j.state == phase::dispatched || j.state == phase::running)
            kill_job(j, kill_reason::shutdown, now_ms);
    for (runner_proc& r : runners_) {
        r.expected_exit = true;
        ::kill(r.pid, SIGINT); // the runner kills its job's group and children, then exits
    }
}

void broker::kill_all()
{
    for (auto& [key, j] : jobs_)
        if (j.state == phase::running)
            signal_job(j, SIGKILL);
    for (runner_proc& r : runners_) {
        r.expected_exit = true;
        ::kill(r.pid, SIGKILL);
    }
}

broker::job* broker::find(job_key key)
{
    const auto it = jobs_.find(key);
    return it == jobs_.end() ? nullptr : &it->second;
}

broker::job* broker::find(std::string_view id)
{
    const auto it = by_id_.find(std::string(id));
    return it == by_id_.end() ? nullptr : find(it->second);
}

bool broker::live(std::string_view id, std::uint64_t) const
{
    if (by_id_.contains(std::string(id)))
        return true;
    return std::any_of(recent_.begin(), recent_.end(), [&](const auto& r) { return r.first == id; });
}

std::vector<job_view> broker::jobs(std::uint64_t now_ms) const
{
    std::vector<job_view> out;
    for (const auto& [key, j] : jobs_) {
        if (j.state != phase::dispatched && j.state != phase::running)
            continue;
        job_view v;
        v.id = j.id;
        v.task = ipc::text_of(j.header.name);
        v.state = "running";
        v.elapsed_s = static_cast<double>(now_ms - (j.started_ms ? j.started_ms : j.submitted_ms)) / 1000.0;
        v.runner_pid = j.runner;
        out.push_back(std::move(v));
    }
    for (const job_key key : queue_.keys()) {
        const auto it = jobs_.find(key);
        if (it == jobs_.end())
            continue;
        job_view v;
        v.id = it->second.id;
        v.task = ipc::text_of(it->second.header.name);
        v.state = "queued";
        v.elapsed_s = static_cast<double>(now_ms - it->second.submitted_ms) / 1000.0;
        out.push_back(std::move(v));
    }
    return out;
}

} // namespace ringfork::master
