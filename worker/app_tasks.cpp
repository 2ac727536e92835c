// The library's tasks in one worker, and the public functions over them.
//
// A call asks task_calls for output records (job_stream) and progress records when it
// wants them. Records the job socket had no room for are skipped by the runner, so a jump
// in the offsets is read back from <id>.out; so is any output after the last record once
// the result says how much there was. The outcome is handed on only after every output
// byte before it, and the job's files are removed then: nobody else reads a call's job.
#include "worker/app_tasks.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <stdexcept>

#include <fmt/format.h>

#include "ipc/task_protocol.hpp"
#include "net/error.hpp"
#include "net/log.hpp"
#include "worker/task_routes.hpp"

namespace ringfork::detail {

void client_state::left()
{
    gone = true;
    // Cancelling may end calls (and run user code) at once: walk a copy.
    const std::vector<std::weak_ptr<task_call_state>> made = std::move(calls);
    calls.clear();
    for (const auto& w : made)
        if (const std::shared_ptr<task_call_state> c = w.lock(); c && c->active() && c->cancel_on_disconnect())
            c->cancel();
}

void task_call_state::cancel()
{
    if (delivered_ || cancel_sent_ || ended_)
        return;
    cancel_sent_ = true;
    worker::task_calls* calls = owner_->calls();
    // The master ends it and the outcome comes on its socket as usual.
    if (calls->cancel_job(job_id_, {}))
        return;
    // The master cannot be asked: the job is forgotten (its socket closing cancels it there).
    net::log::warn("task job {}: the cancel could not be sent to the master; the call ends here", job_id_);
    calls->drop(id_);
    id_ = 0;
    worker::task_outcome o;
    o.outcome = ipc::job_outcome::cancelled;
    o.reason = "cancelled";
    ended_ = o;
    owner_->later([self = shared_from_this()] { self->finish(); });
}

void task_call_state::resume()
{
    if (delivered_ || !paused_)
        return;
    paused_ = false;
    if (!catch_up(known_end_))
        return;
    if (ended_) {
        finish();
        return;
    }
    if (id_ != 0)
        owner_->calls()->resume(id_);
}

bool task_call_state::on_output(std::uint64_t offset, std::span<const char> bytes)
{
    known_end_ = std::max(known_end_, offset + bytes.size());
    if (delivered_ || paused_)
        return !paused_;
    if (offset > delivered_bytes_ && !catch_up(offset))
        return false;
    if (offset + bytes.size() <= delivered_bytes_)
        return true;
    return hand_on(bytes.subspan(static_cast<std::size_t>(delivered_bytes_ - offset)));
}

void task_call_state::on_done(const worker::task_outcome& o)
{
    id_ = 0; // task_calls is done with it
    ended_ = o;
    known_end_ = std::max(known_end_, o.output_bytes);
    if (paused_ || !catch_up(known_end_))
        return; // resume() finishes
    finish();
}

bool task_call_state::hand_on(std::span<const char> bytes)
{
    delivered_bytes_ += bytes.size();
    if (!options_.on_chunk) {
        output_.append(bytes.data(), bytes.size());
        return true;
    }
    if (!options_.on_chunk({bytes.data(), bytes.size()}))
        paused_ = true;
    return !paused_;
}

bool task_call_state::catch_up(std::uint64_t end)
{
    if (delivered_bytes_ >= end)
        return true;
    const ipc::spool* spool = worker::spool_for(owner_->env().settings.task_spool).get();
    int err = ENOENT;
    const net::unique_fd fd = spool ? spool->open_read(job_id_, ipc::spool::file::out, err) : net::unique_fd{};
    if (!fd) {
        net::log::warn("task job {}: {}; {} bytes of its output are lost to its caller", job_id_,
                       net::sys_error("open", ipc::spool::name(job_id_, ipc::spool::file::out), err),
                       end - delivered_bytes_);
        delivered_bytes_ = end;
        return true;
    }
    char buf[65536];
    while (delivered_bytes_ < end) {
        const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buf, end - delivered_bytes_));
        const ssize_t n = ::pread(fd.get(), buf, want, static_cast<off_t>(delivered_bytes_));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            net::log::warn("task job {}: {}; {} bytes of its output are lost to its caller", job_id_,
                           net::sys_error("pread", ipc::spool::name(job_id_, ipc::spool::file::out),
                                          n < 0 ? errno : ENODATA),
                           end - delivered_bytes_);
            delivered_bytes_ = end;
            return true;
        }
        if (!hand_on({buf, static_cast<std::size_t>(n)}))
            return false;
    }
    return true;
}

void task_call_state::finish()
{
    if (delivered_ || !ended_)
        return;
    delivered_ = true;
    task_result r = worker::result_of(*ended_);
    r.job_id = job_id_;
    r.output = std::move(output_);
    if (!job_id_.empty())
        if (const ipc::spool* spool = worker::spool_for(owner_->env().settings.task_spool).get())
            spool->remove_job(job_id_);
    // The callbacks go with the call: what they hold (a writer, a responder) is released.
    unique_function<void(task_result)> done = std::move(done_);
    options_.on_chunk = nullptr;
    options_.on_progress = nullptr;
    options_.client = {};
    if (done)
        done(std::move(r));
}

} // namespace ringfork::detail

namespace ringfork::worker {

namespace {

thread_local app_tasks* current_tasks = nullptr;

std::uint32_t to_ms(std::chrono::milliseconds d) noexcept
{
    return static_cast<std::uint32_t>(std::clamp<std::chrono::milliseconds::rep>(d.count(), 0, UINT32_MAX));
}

constexpr std::string_view no_pool = "this server runs no task pool";

} // namespace

app_tasks* app_tasks::current() noexcept { return current_tasks; }
void app_tasks::make_current(app_tasks* t) noexcept { current_tasks = t; }

void app_tasks::later(unique_function<void()> fn)
{
    if (posts_ && posts_->post(std::move(fn)))
        return;
    net::log::error("task call: the loop's post queue is closed; an outcome is not delivered");
}

task_result result_of(const task_outcome& o)
{
    task_result r;
    r.message = o.reason;
    r.signal = o.signal;
    r.elapsed = std::chrono::milliseconds(o.elapsed_ms);
    if (o.lost) {
        r.what = task_result::outcome::failed;
        return r;
    }
    switch (o.outcome) {
    case ipc::job_outcome::ok: r.what = task_result::outcome::ok; break;
    case ipc::job_outcome::failed: r.what = task_result::outcome::failed; break;
    case ipc::job_outcome::timed_out: r.what = task_result::outcome::timed_out; break;
    case ipc::job_outcome::crashed: r.what = task_result::outcome::crashed; break;
    case ipc::job_outcome::cancelled: r.what = task_result::outcome::cancelled; break;
    case ipc::job_outcome::rejected:
        r.what = o.rejected == ipc::reject_reason::unknown_task ? task_result::outcome::failed
                                                                 : task_result::outcome::queue_full;
        break;
    }
    return r;
}

job_info info_of(const ipc::job_state_record& s)
{
    job_info j;
    switch (s.state) {
    case ipc::job_state::queued: j.what = job_info::state::queued; break;
    case ipc::job_state::running: j.what = job_info::state::running; break;
    case ipc::job_state::done: j.what = job_info::state::done; break;
    case ipc::job_state::failed: j.what = job_info::state::failed; break;
    case ipc::job_state::timed_out: j.what = job_info::state::timed_out; break;
    case ipc::job_state::cancelled: j.what = job_info::state::cancelled; break;
    }
    j.task = ipc::text_of(s.task);
    j.progress = ipc::text_of(s.progress);
    j.message = ipc::text_of(s.reason);
    j.exit_code = s.exit_code;
    j.signal = s.signal;
    j.elapsed = std::chrono::milliseconds(s.elapsed_ms);
    j.output_bytes = s.output_bytes;
    return j;
}

ringfork::task_call app_tasks::call(std::string_view name, std::string input, call_options options,
                                    unique_function<void(task_result)> done)
{
    const std::chrono::milliseconds hold = options.timeout + options.grace;
    auto st = std::make_shared<detail::task_call_state>(*this, std::move(options), std::move(done));
    detail::client_state* client = st->options_.client.state().get();
    const auto refuse = [&](ipc::job_outcome what, std::string_view why) {
        task_outcome o;
        o.outcome = what;
        o.rejected = what == ipc::job_outcome::rejected ? ipc::reject_reason::unknown_task : ipc::reject_reason::none;
        o.reason = why;
        st->ended_ = o;
        later([st] { st->finish(); });
        return ringfork::task_call(st);
    };
    if (!ipc::valid_task_name(name))
        return refuse(ipc::job_outcome::rejected, ipc::reject_text(ipc::reject_reason::unknown_task));
    if (calls_ == nullptr)
        return refuse(ipc::job_outcome::failed, no_pool);
    if (client && client->gone && st->options_.cancel_on_disconnect)
        return refuse(ipc::job_outcome::cancelled, "the client had gone");
    task_request req;
    req.task = name;
    req.body = std::move(input);
    req.stream = true;
    req.progress = static_cast<bool>(st->options_.on_progress);
    req.timeout_ms = to_ms(st->options_.timeout);
    req.grace_ms = to_ms(st->options_.grace);
    task_events ev;
    ev.output = [st](std::uint64_t offset, std::span<const char> bytes) { return st->on_output(offset, bytes); };
    if (req.progress)
        ev.progress = [st](std::string_view line) {
            if (!st->delivered_ && st->options_.on_progress)
                st->options_.on_progress(line);
        };
    ev.done = [st](const task_outcome& o) { st->on_done(o); };
    st->id_ = calls_->call(std::move(req), std::move(ev), &st->job_id_);
    if (st->id_ == 0)
        return refuse(ipc::job_outcome::failed, "the task pool cannot take the job now (its channel is full)");
    if (client) {
        std::erase_if(client->calls, [](const std::weak_ptr<detail::task_call_state>& w) { return w.expired(); });
        client->calls.push_back(st);
        client->hold_until_ms = std::max<std::uint64_t>(
            client->hold_until_ms,
            env_.now_ms + env_.settings.task_timeout_ms + static_cast<std::uint64_t>(hold.count()));
    }
    return ringfork::task_call(st);
}

void app_tasks::submit(std::string_view name, std::string_view input, const job_options& options,
                       unique_function<void(job_submitted)> queued)
{
    auto cb = std::make_shared<unique_function<void(job_submitted)>>(std::move(queued));
    const auto refuse = [&](task_result::outcome what, std::string why) {
        later([cb, what, why = std::move(why)]() mutable {
            if (*cb)
                (*cb)(job_submitted{{}, what, std::move(why)});
        });
    };
    if (!ipc::valid_task_name(name))
        return refuse(task_result::outcome::failed, std::string(ipc::reject_text(ipc::reject_reason::unknown_task)));
    const ipc::spool* spool = calls_ ? spool_for(env_.settings.task_spool).get() : nullptr;
    if (spool == nullptr)
        return refuse(task_result::outcome::failed, std::string(calls_ ? "the task spool cannot be used" : no_pool));
    // The input goes to the spool first: the runner reads it from there whenever it starts.
    std::string id = ipc::new_job_id();
    if (std::string why = spool->write_input(id, input); !why.empty()) {
        net::log::warn("task {}: {}", name, why);
        return refuse(task_result::outcome::queue_full, std::move(why));
    }
    task_request req;
    req.id = id;
    req.task = name;
    req.async = true;
    req.spooled_body = input.size();
    req.timeout_ms = to_ms(options.timeout);
    req.grace_ms = to_ms(options.grace);
    task_events ev;
    ev.queued = [cb, id] {
        if (*cb)
            std::exchange(*cb, nullptr)(job_submitted{id, task_result::outcome::ok, {}});
    };
    ev.done = [cb](const task_outcome& o) {
        if (*cb) {
            const task_result r = result_of(o);
            std::exchange(*cb, nullptr)(job_submitted{{}, r.what, r.message});
        }
    };
    if (calls_->call(std::move(req), std::move(ev)) == 0) {
        spool->remove(id, ipc::spool::file::in);
        refuse(task_result::outcome::failed, "the task pool cannot take the job now (its channel is full)");
    }
}

std::optional<job_info> app_tasks::state(std::string_view job_id)
{
    const ipc::spool* spool = calls_ && ipc::valid_job_id(job_id) ? spool_for(env_.settings.task_spool).get() : nullptr;
    if (spool == nullptr)
        return std::nullopt;
    const auto s = spool->read_state(job_id);
    if (!s)
        return std::nullopt;
    return info_of(*s);
}

std::optional<std::string> app_tasks::output(std::string_view job_id, std::size_t max)
{
    const ipc::spool* spool = calls_ && ipc::valid_job_id(job_id) ? spool_for(env_.settings.task_spool).get() : nullptr;
    int err = 0;
    const net::unique_fd fd = spool ? spool->open_read(job_id, ipc::spool::file::out, err) : net::unique_fd{};
    if (!fd)
        return std::nullopt;
    std::string out;
    char buf[65536];
    while (out.size() < max) {
        const std::size_t want = std::min(sizeof buf, max - out.size());
        const ssize_t n = ::pread(fd.get(), buf, want, static_cast<off_t>(out.size()));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

bool app_tasks::cancel(std::string_view job_id)
{
    return calls_ && ipc::valid_job_id(job_id) && calls_->cancel_job(job_id, {});
}

} // namespace ringfork::worker

namespace ringfork {

namespace {

worker::app_tasks& here(std::string_view what)
{
    worker::app_tasks* t = worker::app_tasks::current();
    if (t == nullptr)
        throw std::logic_error(fmt::format("ringfork::{}: not on a worker's loop thread", what));
    return *t;
}

} // namespace

bool client_ref::connected() const noexcept { return s_ && !s_->gone; }

void task_call::cancel()
{
    if (s_)
        s_->cancel();
}

void task_call::resume()
{
    if (s_)
        s_->resume();
}

bool task_call::active() const noexcept { return s_ && s_->active(); }
std::string_view task_call::job_id() const noexcept { return s_ ? std::string_view(s_->job_id()) : std::string_view(); }

task_call call_task(std::string_view name, std::string input, call_options options,
                    unique_function<void(task_result)> done)
{
    return here("call_task").call(name, std::move(input), std::move(options), std::move(done));
}

void submit_task(std::string_view name, std::string_view input, job_options options,
                 unique_function<void(job_submitted)> queued)
{
    here("submit_task").submit(name, input, options, std::move(queued));
}

std::optional<job_info> job_state(std::string_view job_id) { return here("job_state").state(job_id); }

std::optional<std::string> job_output(std::string_view job_id, std::size_t max)
{
    return here("job_output").output(job_id, max);
}

bool cancel_job(std::string_view job_id) { return here("cancel_job").cancel(job_id); }

std::string_view outcome_name(task_result::outcome o) noexcept
{
    switch (o) {
    case task_result::outcome::ok: return "ok";
    case task_result::outcome::failed: return "failed";
    case task_result::outcome::timed_out: return "timed_out";
    case task_result::outcome::crashed: return "crashed";
    case task_result::outcome::queue_full: return "queue_full";
    case task_result::outcome::cancelled: return "cancelled";
    }
    return "unknown";
}

std::string_view state_name(job_info::state s) noexcept
{
    switch (s) {
    case job_info::state::queued: return "queued";
    case job_info::state::running: return "running";
    case job_info::state::done: return "done";
    case job_info::state::failed: return "failed";
    case job_info::state::timed_out: return "timed_out";
    case job_info::state::cancelled: return "cancelled";
    }
    return "unknown";
}

} // namespace ringfork
