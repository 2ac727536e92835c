// Per-worker access log.
#include "worker/access_log.hpp"

#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "net/error.hpp"
#include "net/log.hpp"

namespace ringfork::worker {

void append_escaped(std::string& out, std::string_view s)
{
    static constexpr char hex[] = "0123456789ABCDEF";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x7f) {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 15];
        } else {
            out += static_cast<char>(c);
        }
    }
}

access_log access_log::adopt(net::unique_fd fd, std::string path)
{
    access_log log;
    log.path_ = std::move(path);
    log.fd_ = std::move(fd);
    return log;
}

void access_log::stamp(std::time_t now)
{
    if (now == stamped_)
        return;
    stamped_ = now;
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::strftime(time_local_, sizeof time_local_, "%d/%b/%Y:%H:%M:%S +0000", &tm);
}

void access_log::record(std::string_view peer, const http::request_summary& req, unsigned status,
                        std::uint64_t body_bytes, std::time_t now)
{
    stamp(now);
    buffer_ += peer.empty() ? std::string_view("-") : peer;
    buffer_ += " - - [";
    buffer_ += time_local_;
    buffer_ += "] \"";
    append_escaped(buffer_, req.method);
    buffer_ += ' ';
    append_escaped(buffer_, req.target);
    buffer_ += req.version_minor == 0 ? " HTTP/1.0\" " : " HTTP/1.1\" ";
    fmt::format_to(std::back_inserter(buffer_), "{} {} \"", status, body_bytes);
    append_escaped(buffer_, req.referer.empty() ? "-" : req.referer);
    buffer_ += "\" \"";
    append_escaped(buffer_, req.user_agent.empty() ? "-" : req.user_agent);
    buffer_ += "\"\n";
    if (buffer_.size() >= flush_bytes)
        flush();
}

void access_log::flush() noexcept
{
    std::size_t done = 0;
    while (fd_ && done < buffer_.size()) {
        const ssize_t n = ::write(fd_.get(), buffer_.data() + done, buffer_.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            net::log::error("{} (dropping {} bytes)", net::sys_error("write", path_, errno), buffer_.size() - done);
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    buffer_.clear();
}

void access_log::reopen(net::unique_fd fd)
{
    flush();
    if (fd)
        fd_ = std::move(fd);
}

} // namespace ringfork::worker
