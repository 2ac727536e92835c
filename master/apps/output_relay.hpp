// An app instance's standard output and error, relayed to ringfork's log a line at a time
// with the instance's name in front (`app web.1: listening on 41235`). Reading is
// non-blocking and bounded per call, lines are bounded in length and control characters
// are escaped, so neither a flood nor a hostile byte reaches past one log line. Owns the
// pipe's read end and the partial line; leaves the write end to the instance's processes.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "net/fd.hpp"

namespace ringfork::master {

/// Cuts a byte stream into lines of at most line_max bytes. No I/O, so it is tested alone.
class line_splitter {
public:
    static constexpr std::size_t line_max = 4096;
    static constexpr std::string_view cut_mark = " [line cut]";

    /// Calls `emit(line)` for every line `bytes` completes ("\n" or "\r\n" removed); a line
    /// reaching line_max is emitted then with cut_mark, and its rest up to "\n" dropped.
    template <class F> void feed(std::string_view bytes, F&& emit);
    /// Emits a last line that had no "\n".
    template <class F> void finish(F&& emit);

private:
    std::string partial_;
    bool dropping_ = false; ///< The current line was cut: skip to its end.
};

class output_relay {
public:
    static constexpr std::size_t read_per_call = 16 * 1024;

    /// Relays what arrives on `read_end` (non-blocking) under `prefix` ("app web.1").
    output_relay(std::string prefix, net::unique_fd read_end) : prefix_(std::move(prefix)), fd_(std::move(read_end)) {}

    /// The pipe to poll for input; -1 once it reached its end.
    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    /// Reads at most read_per_call bytes and logs the lines they complete; at the end of the
    /// pipe (every writer gone) logs the last partial line and closes it.
    void on_readable();

private:
    std::string prefix_;
    net::unique_fd fd_;
    line_splitter lines_;
};

/// `line` as it goes into the log: bytes below 0x20 (but tab) and 0x7f become `\xNN`.
[[nodiscard]] std::string printable(std::string_view line);

template <class F> void line_splitter::feed(std::string_view bytes, F&& emit)
{
    while (!bytes.empty()) {
        const std::size_t nl = bytes.find('\n');
        const std::string_view piece = bytes.substr(0, nl);
        bytes.remove_prefix(nl == std::string_view::npos ? bytes.size() : nl + 1);
        if (!dropping_) {
            const std::size_t room = line_max - partial_.size();
            partial_.append(piece.substr(0, room));
            if (piece.size() > room) {
                partial_ += cut_mark;
                emit(std::string_view(partial_));
                partial_.clear();
                dropping_ = true;
            }
        }
        if (nl == std::string_view::npos)
            return;
        if (!dropping_) {
            if (!partial_.empty() && partial_.back() == '\r')
                partial_.pop_back();
            emit(std::string_view(partial_));
        }
        partial_.clear();
        dropping_ = false;
    }
}

template <class F> void line_splitter::finish(F&& emit)
{
    if (!partial_.empty() && !dropping_)
        emit(std::string_view(partial_));
    partial_.clear();
    dropping_ = false;
}

} // namespace ringfork::master
