// Chunked response bodies with trailers.
#include "worker/chunked_body.hpp"

#include <fmt/format.h>

namespace ringfork::worker {

void finish_chunked_head(http::response_writer& w)
{
    w.header("Transfer-Encoding", "chunked");
    w.header("Trailer", job_trailer_names);
    w.finish_without_body();
}

void append_chunk(net::byte_buffer& out, std::span<const char> bytes)
{
    if (bytes.empty())
        return;
    char size[24];
    const auto n = fmt::format_to_n(size, sizeof size, "{:x}\r\n", bytes.size());
    out.append(size, n.size);
    out.append(bytes.data(), bytes.size());
    out.append("\r\n");
}

void append_last_chunk(net::byte_buffer& out, const job_trailers& t)
{
    std::string text = "0\r\n";
    if (t.signal != 0)
        text += fmt::format("X-Task-Signal: {}\r\n", t.signal);
    else
        text += fmt::format("X-Task-Exit-Code: {}\r\n", t.exit_code);
    text += fmt::format("X-Task-Elapsed-Ms: {}\r\n", t.elapsed_ms);
    if (t.timed_out)
        text += "X-Task-Timed-Out: 1\r\n";
    if (!t.error.empty()) {
        text += "X-Task-Error: ";
        for (const char c : t.error)
            text += static_cast<unsigned char>(c) < 0x20 || c == 0x7f ? ' ' : c;
        text += "\r\n";
    }
    text += "\r\n";
    out.append(text);
}

} // namespace ringfork::worker
