// Task calls from this worker.
//
// One job socket per call: a SOCK_SEQPACKET pair whose other end goes to the master with
// job_submit. The master writes `queued` (or `rejected`) on it and passes it to a runner,
// which writes `started` and `output`; the master writes the final `result` itself, so a
// runner that dies still ends the call. Closing our end tells the master the caller left.
#include "worker/task_calls.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "ipc/task_channel.hpp"

namespace ringfork::worker {

namespace {

constexpr std::uint32_t generation_mask = user_data::generation_mask;

} // namespace

std::uint32_t task_calls::take_slot()
{
    if (!free_.empty()) {
        const std::uint32_t i = free_.back();
        free_.pop_back();
        return i;
    }
    slots_.emplace_back();
    return static_cast<std::uint32_t>(slots_.size() - 1);
}

void task_calls::release(std::uint32_t index) noexcept
{
    slot& s = slots_[index];
    std::uint32_t generation = (s.generation + 1) & generation_mask;
    if (generation == 0)
        generation = 1;
    s = slot{};
    s.generation = generation;
    free_.push_back(index);
}

task_calls::slot* task_calls::live(task_call_id id) noexcept
{
    const auto index = static_cast<std::uint32_t>(id & 0xffffffffu);
    if (id == 0 || index >= slots_.size())
        return nullptr;
    slot& s = slots_[index];
    if (!s.used || s.dropped || s.generation != static_cast<std::uint32_t>(id >> 32))
        return nullptr;
    return &s;
}

std::size_t task_calls::active() const noexcept { return slots_.size() - free_.size(); }

void task_calls::prep(std::uint32_t index, op_kind kind, io_uring_sqe*& sqe)
{
    sqe = ring_.sqe();
    io_uring_sqe_set_data64(sqe, service_user_data(id_, index * 4 + kind, slots_[index].generation));
}

task_call_id task_calls::call(task_request req, task_events events, std::string* job_id)
{
    if (!env_.settings.task_pool || env_.master_channel < 0)
        return 0;
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return 0;
    net::unique_fd ours(sv[0]);
    const net::unique_fd theirs(sv[1]);
    if (req.id.empty())
        req.id = ipc::new_job_id();
    ipc::worker_task_message m;
    m.type = ipc::worker_task_msg::job_submit;
    ipc::job_header& h = m.job;
    if (req.async)
        h.flags = ipc::job_async;
    else
        h.flags = static_cast<std::uint8_t>((req.cancel_on_close ? ipc::job_cancel_on_close : 0) |
                                            (req.stream ? ipc::job_stream : 0) | (req.progress ? ipc::job_progress : 0));
    h.body_length = static_cast<std::uint32_t>(req.async ? req.spooled_body : req.body.size());
    h.timeout_ms = req.timeout_ms;
    h.grace_ms = req.grace_ms;
    ipc::set_text(h.id, req.id);
    ipc::set_text(h.name, req.task);
    ipc::set_text(h.args, req.args);
    if (ipc::send_with_fd(env_.master_channel, &m, sizeof m, theirs.get()) != 0)
        return 0;
    ++env_.stats.tasks_submitted;
    if (job_id != nullptr)
        *job_id = req.id;
    const std::uint32_t index = take_slot();
    slot& s = slots_[index];
    s.used = true;
    s.fd = std::move(ours);
    s.job_id = req.id;
    s.req = std::move(req);
    s.events = std::move(events);
    s.packet.resize(sizeof(ipc::record_head) + sizeof(ipc::output_head) + ipc::record_bytes_max);
    const task_call_id id = (std::uint64_t(s.generation) << 32) | index;
    arm_record(index);
    if (!slots_[index].req.async)
        send_body(index);
    return id;
}

// A synchronous call's body goes out as records, one in flight at a time, each a sendmsg
// of its head and a slice of the body (no copy); body_end closes it.
void task_calls::send_body(std::uint32_t index)
{
    slot& s = slots_[index];
    const std::size_t left = s.req.body.size() - s.body_sent;
    const std::size_t n = std::min(left, ipc::record_bytes_max);
    s.body_head = {};
    s.body_head.type = left > 0 ? ipc::record_type::body : ipc::record_type::body_end;
    s.body_head.length = static_cast<std::uint32_t>(n);
    s.body_iov[0] = {&s.body_head, sizeof s.body_head};
    s.body_iov[1] = {s.req.body.data() + s.body_sent, n};
    s.body_msg = {};
    s.body_msg.msg_iov = s.body_iov;
    s.body_msg.msg_iovlen = n > 0 ? 2 : 1;
    io_uring_sqe* sqe = nullptr;
    prep(index, op_body, sqe);
    io_uring_prep_sendmsg(sqe, s.fd.get(), &s.body_msg, MSG_NOSIGNAL);
    s.body_inflight = true;
}

void task_calls::arm_record(std::uint32_t index)
{
    slot& s = slots_[index];
    io_uring_sqe* sqe = nullptr;
    prep(index, op_record, sqe);
    io_uring_prep_recv(sqe, s.fd.get(), s.packet.data(), s.packet.size(), 0);
    s.record_inflight = true;
}

void task_calls::on_completion(const user_data& u, const io_uring_cqe& cqe)
{
    const std::uint32_t index = u.index / 4;
    if (index >= slots_.size() || slots_[index].generation != u.generation || !slots_[index].used)
        return;
    switch (static_cast<op_kind>(u.index % 4)) {
    case op_body: on_body(index, cqe.res); break;
    case op_record: on_record(index, cqe.res); break;
    case op_reply: on_reply(index, cqe.res); break;
    }
}

void task_calls::on_body(std::uint32_t index, int res)
{
    slot& s = slots_[index];
    s.body_inflight = false;
    if (res < 0)
        s.body_end_sent = true; // the job has ended (or was rejected): no more body
    else if (s.body_head.type == ipc::record_type::body)
        s.body_sent += s.body_head.length;
    else
        s.body_end_sent = true;
    if (s.dropped || s.finished) {
        settle(index);
        return;
    }
    if (!s.held.empty()) {
        // A final record came while this send was out: handled now that it is back.
        const std::string held = std::move(s.held);
        s.held.clear();
        on_packet(index, held);
    } else if (!s.body_end_sent) {
        send_body(index);
    }
}

void task_calls::on_record(std::uint32_t index, int res)
{
    slot& s = slots_[index];
    s.record_inflight = false;
    if (s.dropped || s.finished) {
        settle(index);
        return;
    }
    if (res <= 0) {
        task_outcome o;
        o.lost = true;
        o.reason = "the task pool went away"; // the job socket ended without a result
        finish(index, o);
        return;
    }
    on_packet(index, {s.packet.data(), static_cast<std::size_t>(res)});
}

void task_calls::on_packet(std::uint32_t index, std::string_view packet)
{
    const auto r = ipc::parse_record({packet.data(), packet.size()});
    if (!r) {
        task_outcome o;
        o.lost = true;
        o.reason = "a malformed record from the task pool";
        finish(index, o);
        return;
    }
    if ((r->type == ipc::record_type::result || r->type == ipc::record_type::rejected) && slots_[index].body_inflight) {
        // The body send must come back before the call can end: hurry it up.
        slots_[index].held.assign(packet);
        io_uring_sqe* sqe = ring_.sqe();
        io_uring_prep_cancel_fd(sqe, slots_[index].fd.get(), IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, ud(op::cancel));
        return;
    }
    // Callbacks may drop this call (or start others): the slot is looked up again after each.
    const std::uint32_t generation = slots_[index].generation;
    const auto still_ours = [&] {
        return slots_[index].used && slots_[index].generation == generation && !slots_[index].dropped;
    };
    slots_[index].in_callback = true;
    switch (r->type) {
    case ipc::record_type::queued:
        if (slots_[index].events.queued)
            slots_[index].events.queued();
        slots_[index].in_callback = false;
        if (still_ours() && slots_[index].req.async) {
            // Nobody waits on the socket for an async job: the spool has its state.
            slots_[index].finished = true;
            slots_[index].events = {};
            settle(index);
            return;
        }
        break;
    case ipc::record_type::rejected: {
        slots_[index].in_callback = false;
        task_outcome o;
        o.outcome = ipc::job_outcome::rejected;
        o.rejected = ipc::payload_as<ipc::rejected_record>(*r).value_or(ipc::rejected_record{}).reason;
        o.reason = ipc::reject_text(o.rejected);
        finish(index, o);
        return;
    }
    case ipc::record_type::started:
        if (slots_[index].events.started)
            slots_[index].events.started();
        break;
    case ipc::record_type::output: {
        ipc::output_head head;
        if (r->payload.size() < sizeof head || !slots_[index].events.output)
            break;
        std::memcpy(&head, r->payload.data(), sizeof head);
        if (!slots_[index].events.output(head.offset, r->payload.subspan(sizeof head)) && still_ours())
            slots_[index].paused = true;
        break;
    }
    case ipc::record_type::progress:
        if (slots_[index].events.progress)
            slots_[index].events.progress({r->payload.data(), r->payload.size()});
        break;
    case ipc::record_type::result: {
        slots_[index].in_callback = false;
        const auto res = ipc::payload_as<ipc::result_record>(*r);
        task_outcome o;
        if (!res) {
            o.lost = true;
            o.reason = "a malformed result from the task pool";
        } else {
            o.outcome = res->outcome;
            o.rejected = res->rejected;
            o.exit_code = res->exit_code;
            o.signal = res->signal;
            o.elapsed_ms = res->elapsed_ms;
            o.output_bytes = res->output_bytes;
            o.timed_out = res->timed_out != 0;
            o.reason = ipc::text_of(res->reason);
        }
        finish(index, o);
        return;
    }
    default:
        break;
    }
    if (slots_[index].generation == generation)
        slots_[index].in_callback = false;
    if (!still_ours()) {
        if (slots_[index].used && slots_[index].generation == generation)
            settle(index);
        return;
    }
    if (!slots_[index].paused && !slots_[index].finished)
        arm_record(index);
}

void task_calls::finish(std::uint32_t index, const task_outcome& o)
{
    slot& s = slots_[index];
    s.finished = true;
    if (s.body_inflight || s.record_inflight) {
        io_uring_sqe* sqe = ring_.sqe();
        io_uring_prep_cancel_fd(sqe, s.fd.get(), IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, ud(op::cancel));
    }
    // Taken out first: the callback may drop the call or start others.
    const std::function<void(const task_outcome&)> done = std::move(s.events.done);
    s.events = {};
    const std::uint32_t generation = s.generation;
    if (done)
        done(o);
    if (slots_[index].used && slots_[index].generation == generation)
        settle(index);
}

void task_calls::settle(std::uint32_t index) noexcept
{
    slot& s = slots_[index];
    if (!s.used || !(s.finished || s.dropped) || s.body_inflight || s.record_inflight || s.in_callback)
        return;
    release(index);
}

void task_calls::drop(task_call_id id) noexcept
{
    slot* s = live(id);
    if (s == nullptr)
        return;
    s->dropped = true;
    const auto index = static_cast<std::uint32_t>(id & 0xffffffffu);
    if (s->body_inflight || s->record_inflight) {
        io_uring_sqe* sqe = ring_.sqe();
        io_uring_prep_cancel_fd(sqe, s->fd.get(), IORING_ASYNC_CANCEL_ALL);
        io_uring_sqe_set_data64(sqe, ud(op::cancel));
        return; // released when they are back
    }
    // Freed at once, unless a callback of this very call is what dropped it: then once it
    // has returned (settle waits for in_callback to clear).
    s->fd.reset();
    settle(index);
}

void task_calls::resume(task_call_id id)
{
    slot* s = live(id);
    if (s == nullptr || !s->paused)
        return;
    s->paused = false;
    if (!s->record_inflight && !s->finished)
        arm_record(static_cast<std::uint32_t>(id & 0xffffffffu));
}

bool task_calls::cancel_job(std::string_view job_id, std::function<void(ipc::cancel_result)> answer)
{
    int sv[2];
    if (!env_.settings.task_pool || env_.master_channel < 0 ||
        ::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        return false;
    net::unique_fd ours(sv[0]);
    const net::unique_fd theirs(sv[1]);
    ipc::worker_task_message m;
    m.type = ipc::worker_task_msg::job_cancel;
    ipc::set_text(m.job.id, job_id);
    if (ipc::send_with_fd(env_.master_channel, &m, sizeof m, theirs.get()) != 0)
        return false;
    const std::uint32_t index = take_slot();
    slot& s = slots_[index];
    s.used = true;
    s.fd = std::move(ours);
    s.answer = std::move(answer);
    s.packet.resize(sizeof(ipc::record_head) + sizeof(ipc::cancel_record) + 16);
    io_uring_sqe* sqe = nullptr;
    prep(index, op_reply, sqe);
    io_uring_prep_recv(sqe, s.fd.get(), s.packet.data(), s.packet.size(), 0);
    s.record_inflight = true;
    return true;
}

void task_calls::on_reply(std::uint32_t index, int res)
{
    slot& s = slots_[index];
    s.record_inflight = false;
    s.finished = true;
    const auto r = res > 0 ? ipc::parse_record({s.packet.data(), static_cast<std::size_t>(res)}) : std::nullopt;
    const auto c = r && r->type == ipc::record_type::cancel ? ipc::payload_as<ipc::cancel_record>(*r) : std::nullopt;
    const std::function<void(ipc::cancel_result)> answer = std::move(s.answer);
    const std::uint32_t generation = s.generation;
    if (answer && !s.dropped)
        answer(c ? c->result : ipc::cancel_result::unknown);
    if (slots_[index].used && slots_[index].generation == generation)
        settle(index);
}

} // namespace ringfork::worker
