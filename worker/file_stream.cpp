// The file body source.
#include "worker/file_stream.hpp"

#include <fcntl.h>
#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <utility>

#include "net/error.hpp"
#include "net/log.hpp"
#include "worker/file_cache.hpp"

namespace ringfork::worker {

// Called when attached (the head is in the output) and whenever all output has gone. A
// whole small file already in memory is appended at once; a large one is spliced through
// a pipe (below); otherwise one read of at most read_window bytes, appended and sent, then
// the next once that is out. So a slow reader costs one window of memory.
void file_stream::proceed(source_context& ctx)
{
    if (file_op_inflight_ || poll_inflight_ || ctx.closing())
        return;
    if (body_.length == 0 && !next_part(ctx)) {
        finish(ctx); // the closing delimiter of a multipart body is in the output
        return;
    }
    open_file& f = *body_.file;
    if (f.content_loaded && body_.offset + body_.length <= f.content.size()) {
        do
            ctx.out().append(f.content.data() + body_.offset, body_.length);
        while (next_part(ctx));
        finish(ctx);
        return;
    }
    if (!pipe_.valid() && body_.length >= splice_min && ctx.env().pipes)
        pipe_ = ctx.env().pipes->acquire(); // none to be had (descriptor limit): read it instead
    if (pipe_.valid()) {
        if (piped_ > 0)
            splice_to_socket(ctx);
        else if (ctx.output_pending())
            ctx.send(true); // the head goes first, and waits (MSG_MORE) for the body's first bytes
        else
            splice_from_file(ctx);
        return;
    }
    read_chunk(ctx);
}

bool file_stream::next_part(source_context& ctx)
{
    multipart_body* m = body_.multipart.get();
    if (!m)
        return false;
    if (m->next < m->parts.size()) {
        const multipart_body::part& p = m->parts[m->next++];
        ctx.out().append(p.head);
        body_.offset = p.offset;
        body_.length = p.length;
        return true;
    }
    ctx.out().append(m->trailer);
    m->trailer.clear();
    return false;
}

void file_stream::read_chunk(source_context& ctx)
{
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(body_.length, read_window));
    chunk_.clear();
    char* into = chunk_.reserve_tail(n);
    io_uring_sqe* sqe = ctx.prep(tag_read);
    io_uring_prep_read(sqe, body_.file->fd.get(), into, static_cast<unsigned>(n), body_.offset);
    file_op_inflight_ = true;
}

// Splicing a large body: io_uring moves up to a pipe's worth of the file's pages into the
// pipe (by reference; the kernel runs it off the loop, where waiting for the disk is
// harmless), then a non-blocking splice moves them from the pipe into the socket. When the
// socket is full, the rest waits in the pipe for POLLOUT. No byte of the body is copied
// through the worker, and a slow reader holds one pipe of page references.
void file_stream::splice_from_file(source_context& ctx)
{
    const auto n = static_cast<unsigned>(std::min<std::uint64_t>(body_.length, pipe_.capacity));
    io_uring_sqe* sqe = ctx.prep(tag_splice);
    io_uring_prep_splice(sqe, body_.file->fd.get(), static_cast<std::int64_t>(body_.offset), pipe_.write_end.get(), -1,
                         n, 0);
    file_op_inflight_ = true;
}

void file_stream::splice_to_socket(source_context& ctx)
{
    const unsigned more = body_.length > 0 ? SPLICE_F_MORE : 0;
    const ssize_t n = ::splice(pipe_.read_end.get(), nullptr, ctx.socket(), nullptr, piped_, SPLICE_F_NONBLOCK | more);
    if (n > 0) {
        piped_ -= static_cast<std::uint32_t>(n);
        ctx.count_sent(std::uint64_t(n));
    } else if (n < 0 && errno != EAGAIN) {
        ctx.fail(); // the peer is gone (EPIPE, ECONNRESET)
        return;
    }
    if (piped_ > 0) {
        io_uring_sqe* sqe = ctx.prep(tag_writable);
        io_uring_prep_poll_add(sqe, ctx.socket(), POLLOUT);
        poll_inflight_ = true;
        return;
    }
    if (body_.length > 0) {
        splice_from_file(ctx);
        return;
    }
    if (body_.multipart) {
        proceed(ctx); // the next part, or the closing delimiter
        return;
    }
    finish(ctx);
}

// Completions. A failed read or splice (the file shrank or broke under us) closes the
// connection: the length promised in the head cannot be kept.
void file_stream::on_completion(source_context& ctx, std::uint8_t tag, const io_uring_cqe& cqe)
{
    switch (tag) {
    case tag_read: {
        if (!step_done(ctx, cqe.res, "read"))
            return;
        const auto got = static_cast<std::size_t>(cqe.res);
        chunk_.commit(got);
        open_file& f = *body_.file;
        // A whole small file read in one go is kept in the cache entry, so later requests
        // skip the read.
        if (body_.offset == 0 && got == f.size && f.size <= file_cache::small_max && !f.content_loaded) {
            f.content.assign(chunk_.data(), got);
            f.content_loaded = true;
        }
        ctx.out().append(chunk_.data(), got);
        chunk_.clear();
        body_.offset += got;
        body_.length -= std::min<std::uint64_t>(body_.length, got);
        if (body_.length == 0 && !body_.multipart)
            finish(ctx);
        else
            ctx.send(); // proceed() comes back once it is out
        break;
    }
    case tag_splice: {
        if (cqe.res > 0)
            piped_ += static_cast<std::uint32_t>(cqe.res); // in the pipe, whatever happens next
        if (!step_done(ctx, cqe.res, "splice"))
            return;
        const auto got = static_cast<std::uint32_t>(cqe.res);
        body_.offset += got;
        body_.length -= std::min<std::uint64_t>(body_.length, got);
        splice_to_socket(ctx);
        break;
    }
    case tag_writable:
        poll_inflight_ = false;
        if (ctx.closing())
            return;
        if (cqe.res < 0) {
            ctx.fail();
            return;
        }
        splice_to_socket(ctx);
        break;
    default:
        net::log::error("file stream: completion with unknown tag {} (res {})", tag, cqe.res);
        std::abort();
    }
    ctx.refresh_deadline();
}

bool file_stream::step_done(source_context& ctx, int res, const char* call)
{
    file_op_inflight_ = false;
    if (ctx.closing())
        return false;
    if (res <= 0) {
        net::log::error("{}", net::sys_error(call, "static file", res < 0 ? -res : EIO));
        ctx.fail();
        return false;
    }
    return true;
}

void file_stream::finish(source_context& ctx)
{
    if (pipe_.valid() && ctx.env().pipes)
        ctx.env().pipes->release(std::exchange(pipe_, {}));
    chunk_.release();
    if (ctx.output_pending())
        ctx.send();
    ctx.done();
}

// The socket's poll is cancelled with the connection's other socket ops; a file read or
// splice runs to completion on its own (the file is local), and busy() holds the close
// until it has.
void file_stream::stop(source_context& ctx) noexcept
{
    if (pipe_.valid() && !file_op_inflight_ && ctx.env().pipes)
        ctx.env().pipes->release(std::exchange(pipe_, {})); // kept only if empty
}

} // namespace ringfork::worker
