// A runner's side of one job's bytes: the job socket (body in; started, output and progress
// records out), the output file with its cap, standard error with its last MiB kept, and
// progress lines. Owns byte accounting and never waiting on a slow submitter; leaves
// processes and timing to command_job and function_job.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ipc/task_channel.hpp"
#include "ipc/task_protocol.hpp"
#include "net/fd.hpp"

namespace ringfork::master {

/// The runner's end of a job's socket (none for an async job).
class job_link {
public:
    job_link() = default;
    job_link(net::unique_fd fd, const ipc::job_header& h);

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    /// A body still to read from the socket.
    [[nodiscard]] bool body_pending() const noexcept { return body_open_; }
    /// Reads body bytes that have arrived, without blocking: the count, 0 once the body is
    /// complete, -EAGAIN when nothing has arrived, or -EPIPE/-EPROTO when the submitter left
    /// or broke the protocol.
    [[nodiscard]] long read_body(std::span<char> buf);
    /// Tells a records submitter that the job runs.
    void started(pid_t runner, pid_t pgid) noexcept;
    /// Forwards output at `offset` when the submitter asked for it and its socket has room;
    /// what it misses it reads from <id>.out.
    void output(std::uint64_t offset, std::span<const char> bytes) noexcept;
    /// Forwards a progress line when the submitter asked for it and there is room.
    void progress(std::string_view line) noexcept;
    /// Gives up the socket (the master still holds its copy).
    void close() noexcept { fd_.reset(); }

private:
    net::unique_fd fd_;
    std::uint8_t flags_ = 0;
    bool body_open_ = false;
    bool gone_ = false;            ///< The submitter's end is closed or full beyond use.
    std::vector<char> packet_;     ///< The last body record received
    std::size_t packet_pos_ = 0;   ///< and how much of its payload was handed out,
    std::size_t packet_end_ = 0;   ///< up to here.
};

/// <id>.out: counted against the cap; out of space and over the cap close it.
class output_sink {
public:
    output_sink(net::unique_fd file, std::uint64_t cap) : file_(std::move(file)), cap_(cap) {}
    /// Appends; false once the output is closed (see failure()). On false, the part that
    /// fit under the cap was still written.
    bool write(std::span<const char> bytes);
    [[nodiscard]] std::uint64_t bytes() const noexcept { return bytes_; }
    [[nodiscard]] bool closed() const noexcept { return failure_ != ipc::job_failure::none; }
    [[nodiscard]] ipc::job_failure failure() const noexcept { return failure_; }
    [[nodiscard]] const std::string& reason() const noexcept { return reason_; }

private:
    net::unique_fd file_;
    std::uint64_t cap_;
    std::uint64_t bytes_ = 0;
    ipc::job_failure failure_ = ipc::job_failure::none;
    std::string reason_;
};

/// <id>.err keeps the last ipc::stderr_keep bytes; the first `log_max` are kept for the log.
class stderr_keeper {
public:
    stderr_keeper(net::unique_fd file, std::size_t log_max) : file_(std::move(file)), log_max_(log_max) {}
    void add(std::span<const char> bytes);
    /// Leaves the file holding the last ipc::stderr_keep bytes.
    void finish();
    [[nodiscard]] const std::string& log_text() const noexcept { return log_; }

private:
    net::unique_fd file_;
    std::size_t log_max_;
    std::string log_;
    std::uint64_t total_ = 0;
    std::string ring_;             ///< Once past the keep size: the last bytes, circular
    std::size_t ring_pos_ = 0;     ///< (next write position).
};

/// Splits a byte stream into lines (each cut at ipc::job_text_max characters).
class line_splitter {
public:
    void feed(std::span<const char> bytes, const std::function<void(std::string_view)>& on_line);

private:
    std::string line_;
};

/// The runner's resident memory in KiB (from /proc/self/statm), 0 if unknown.
[[nodiscard]] std::uint64_t resident_kb() noexcept;

} // namespace ringfork::master
