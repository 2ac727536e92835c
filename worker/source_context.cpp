// The source's view of its connection (source_context, worker/body_source.hpp): what a
// body source may do to the connection it is attached to, carried out on the connection
// table. The table itself is in connections.cpp.
#include "worker/connections.hpp"

namespace ringfork::worker {

io_uring_sqe* source_context::prep(std::uint8_t tag) noexcept
{
    io_uring_sqe* sqe = table_.ring_.sqe();
    io_uring_sqe_set_data64(sqe, ud(op::source, index_, c_.generation, tag));
    return sqe;
}

void source_context::cancel_fd(int fd) noexcept
{
    io_uring_sqe* sqe = table_.ring_.sqe();
    io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
    io_uring_sqe_set_data64(sqe, ud(op::cancel));
}

net::byte_buffer& source_context::out() noexcept
{
    table_.take_spare_block(c_);
    return c_.out;
}

void source_context::send(bool more) noexcept
{
    c_.send_more = c_.send_more || more;
    table_.queue_flush(c_, index_);
}

void source_context::wake() noexcept
{
    c_.wake_source = true;
    table_.queue_flush(c_, index_);
}

bool source_context::output_pending() const noexcept { return c_.send_inflight || !c_.output_empty(); }

int source_context::socket() const noexcept { return c_.fd; }

void source_context::count_sent(std::uint64_t n) noexcept { table_.env_.stats.bytes_out += n; }

void source_context::done() noexcept { c_.source_done = true; }

streamed_body source_context::body() const noexcept { return c_.session.body(); }

std::size_t source_context::take_body(net::byte_buffer& into, std::size_t max)
{
    const std::size_t n = c_.session.take_body(into, max);
    if (n > 0)
        c_.body_taken = true; // settle() feeds held input into the room after this call
    return n;
}

void source_context::close_after() noexcept
{
    c_.close_after_send = true;
    c_.session.close();
}

const net::peer_ip& source_context::peer() const noexcept { return c_.peer; }

void source_context::fail() noexcept { table_.begin_close(c_, index_, false); }

bool source_context::closing() const noexcept { return c_.closing; }

void source_context::refresh_deadline() noexcept { table_.update_deadline(c_, index_); }

worker_env& source_context::env() noexcept { return table_.env_; }

connection_handle source_context::handle() const noexcept { return {&table_, index_, c_.generation}; }

std::size_t source_context::output_bytes() const noexcept { return c_.out.size() + c_.wire.size(); }

} // namespace ringfork::worker
