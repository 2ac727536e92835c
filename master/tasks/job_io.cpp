// A runner's side of one job's bytes.
#include "master/tasks/job_io.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>

#include "ipc/spool.hpp"

namespace ringfork::master {

job_link::job_link(net::unique_fd fd, const ipc::job_header& h) : fd_(std::move(fd)), flags_(h.flags)
{
    body_open_ = fd_ && (h.flags & ipc::job_async) == 0;
    if (fd_)
        packet_.resize(sizeof(ipc::record_head) + sizeof(ipc::output_head) + ipc::record_bytes_max);
}

long job_link::read_body(std::span<char> buf)
{
    if (!body_open_)
        return 0;
    while (packet_pos_ == packet_end_) {
        const ssize_t n = ::recv(fd_.get(), packet_.data(), packet_.size(), MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? -EAGAIN : -EPIPE;
        if (n == 0)
            return -EPIPE;
        const auto r = ipc::parse_record({packet_.data(), static_cast<std::size_t>(n)});
        if (!r)
            return -EPROTO;
        if (r->type == ipc::record_type::body_end) {
            body_open_ = false;
            return 0;
        }
        if (r->type != ipc::record_type::body)
            return -EPROTO;
        packet_pos_ = static_cast<std::size_t>(r->payload.data() - packet_.data());
        packet_end_ = packet_pos_ + r->payload.size();
    }
    const std::size_t n = std::min(buf.size(), packet_end_ - packet_pos_);
    std::memcpy(buf.data(), packet_.data() + packet_pos_, n);
    packet_pos_ += n;
    return static_cast<long>(n);
}

void job_link::started(pid_t runner, pid_t pgid) noexcept
{
    if (!fd_ || gone_)
        return;
    ipc::started_record s;
    s.runner_pid = runner;
    s.pgid = pgid;
    if (const int rc = ipc::send_record_of(fd_.get(), ipc::record_type::started, s); rc != 0 && rc != -EAGAIN)
        gone_ = true;
}

void job_link::output(std::uint64_t offset, std::span<const char> bytes) noexcept
{
    if (!fd_ || gone_ || (flags_ & ipc::job_stream) == 0)
        return;
    while (!bytes.empty()) {
        const std::size_t n = std::min(bytes.size(), ipc::record_bytes_max);
        const int rc = ipc::send_output_record(fd_.get(), offset, bytes.first(n));
        if (rc == -EAGAIN)
            return; // a slow submitter: it reads the rest from the file
        if (rc != 0) {
            gone_ = true;
            return;
        }
        offset += n;
        bytes = bytes.subspan(n);
    }
}

void job_link::progress(std::string_view line) noexcept
{
    if (!fd_ || gone_ || (flags_ & ipc::job_progress) == 0)
        return;
    if (const int rc = ipc::send_record(fd_.get(), ipc::record_type::progress, {line.data(), line.size()});
        rc != 0 && rc != -EAGAIN)
        gone_ = true;
}

bool output_sink::write(std::span<const char> bytes)
{
    if (closed())
        return false;
    bool over = false;
    if (bytes.size() > cap_ - bytes_) {
        bytes = bytes.first(static_cast<std::size_t>(cap_ - bytes_));
        over = true;
    }
    while (!bytes.empty()) {
        const ssize_t n = ::write(file_.get(), bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            const int err = n < 0 ? errno : ENOSPC;
            failure_ = err == ENOSPC || err == EDQUOT ? ipc::job_failure::no_space : ipc::job_failure::spool;
            reason_ = err == ENOSPC || err == EDQUOT
                          ? fmt::format("no space left in the spool after {} bytes of output", bytes_)
                          : fmt::format("writing the output: {}", std::strerror(err));
            return false;
        }
        bytes_ += static_cast<std::uint64_t>(n);
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    if (over) {
        failure_ = ipc::job_failure::output_cap;
        reason_ = fmt::format("output over {} bytes (--task-max-output)", cap_);
        return false;
    }
    return true;
}

void stderr_keeper::add(std::span<const char> bytes)
{
    if (log_.size() < log_max_)
        log_.append(bytes.data(), std::min(bytes.size(), log_max_ - log_.size()));
    const std::uint64_t keep = ipc::stderr_keep;
    if (total_ + bytes.size() <= keep) {
        // Still under the keep size: straight to the file, readable while the job runs.
        if (file_ && ::pwrite(file_.get(), bytes.data(), bytes.size(), static_cast<off_t>(total_)) < 0)
            file_.reset(); // out of space: stderr is a diagnostic, the job goes on
        total_ += bytes.size();
        return;
    }
    if (ring_.empty()) {
        ring_.resize(keep);
        if (file_ && ::pread(file_.get(), ring_.data(), static_cast<std::size_t>(total_), 0) < 0)
            file_.reset();
        ring_pos_ = static_cast<std::size_t>(total_);
    }
    if (bytes.size() >= keep)
        bytes = bytes.last(keep);
    for (const char c : bytes) {
        ring_[ring_pos_] = c;
        ring_pos_ = (ring_pos_ + 1) % keep;
    }
    total_ += bytes.size();
}

void stderr_keeper::finish()
{
    if (ring_.empty() || !file_)
        return;
    // Oldest first: from the write position to the end, then the start.
    const std::size_t tail = ring_.size() - ring_pos_;
    if (::pwrite(file_.get(), ring_.data() + ring_pos_, tail, 0) < 0 ||
        ::pwrite(file_.get(), ring_.data(), ring_pos_, static_cast<off_t>(tail)) < 0)
        return;
    (void)::ftruncate(file_.get(), static_cast<off_t>(ring_.size()));
    ring_.clear();
}

void line_splitter::feed(std::span<const char> bytes, const std::function<void(std::string_view)>& on_line)
{
    for (const char c : bytes) {
        if (c == '\n') {
            if (!line_.empty() && line_.back() == '\r')
                line_.pop_back();
            on_line(line_);
            line_.clear();
        } else if (line_.size() < ipc::job_text_max) {
            line_ += c; // the rest of an overlong line is dropped
        }
    }
}

std::uint64_t resident_kb() noexcept
{
    std::ifstream f("/proc/self/statm");
    std::uint64_t size = 0, resident = 0;
    if (!(f >> size >> resident))
        return 0;
    return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) / 1024;
}

} // namespace ringfork::master
